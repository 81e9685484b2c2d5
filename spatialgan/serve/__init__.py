"""`spatialgan serve`: a local web app over the models (FastAPI and one static page)."""
