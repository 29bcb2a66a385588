# The sidecar and the jobs process share this image; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    FAREWELL_DATA_DIR=/var/lib/farewell

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt \
    && useradd --system --home-dir /var/lib/farewell --create-home farewell
COPY sidecar ./sidecar
COPY jobs ./jobs

USER farewell
EXPOSE 8000
# Migrations run once per start (serialised by a database lock), then gunicorn serves; the jobs
# service overrides this command with `python -m jobs`. Web workers never run scheduled jobs.
CMD ["sh", "-c", "python -m sidecar migrate && exec gunicorn --bind 0.0.0.0:8000 --workers ${WEB_WORKERS:-2} --access-logfile - 'sidecar:create_app()'"]
