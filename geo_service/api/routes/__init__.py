"""One APIRouter per topic."""
