"""REST API v1 of follicle (`install(app, settings)` adds it to the one FastAPI app)."""
