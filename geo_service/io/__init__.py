"""Reading and writing GIS files (GeoJSON, GeoPackage, Shapefile, CSV) with geopandas/pyogrio."""
