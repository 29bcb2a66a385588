"""The yardstick for ingest: a Flask app that reads the body, verifies nothing, stores nothing."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/v1/sites/<site_id>/events")
def receive(site_id: str):
    request.get_data()
    return {"status": "accepted"}, 202
