"""ASGI entry point for multi-worker servers: `uvicorn sigma_cloud.app.asgi:app --workers N` (settings from env)."""

from sigma_cloud.app.main import create_app

app = create_app()
