"""The WSGI entry point for gunicorn in scaled mode: `gunicorn inbox.wsgi:app`."""

from inbox import create_app

app = create_app()
