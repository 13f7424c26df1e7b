"""The yardstick of bench/http_verify.py: a bare Flask app that parses the same JSON body as
POST /api/v1/verify and answers a page for GET /v/<payload>, doing nothing else."""

from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/api/v1/verify")
def verify():  # type: ignore[no-untyped-def]
    body = request.get_json()
    return jsonify({"qr": len(body["qr"])})


@app.get("/v/<payload>")
def page(payload: str) -> str:
    return f"<!doctype html><title>核验</title><p>{len(payload)}</p>"
