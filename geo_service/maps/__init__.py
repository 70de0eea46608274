"""Map pages built with folium, their static assets and translations."""
