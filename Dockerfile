# The sidecar and the jobs process share this image; docker-compose.yml picks the command.
FROM python:3.11-slim

# JSON logs for the collector; prometheus_client's multiprocess mode (each gunicorn worker's
# counters, added up by /metrics) keeps its files in PROMETHEUS_MULTIPROC_DIR.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    FAREWELL_DATA_DIR=/var/lib/farewell \
    FAREWELL_LOG_FORMAT=json \
    PROMETHEUS_MULTIPROC_DIR=/tmp/farewell-metrics

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt \
    && useradd --system --home-dir /var/lib/farewell --create-home farewell
COPY sidecar ./sidecar
COPY jobs ./jobs
COPY deploy ./deploy

USER farewell
EXPOSE 8000
# Migrating is idempotent and serialised by a database lock, so the image also works on its own;
# docker-compose.yml runs a one-shot `migrate` service first, and this one is then a no-op.
# The jobs service overrides this command with `python -m jobs`. Web workers never run scheduled jobs.
CMD ["sh", "-c", "python -m sidecar migrate && exec gunicorn -c deploy/gunicorn.conf.py"]
