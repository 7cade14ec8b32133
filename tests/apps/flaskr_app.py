"""A third-party-shaped Flask app (after the Flask tutorial's flaskr): sqlite3, its own logging set-up.

It knows nothing about otel-secretary and uses none of the example's helpers; the tests run it under
``opentelemetry-instrument flask run`` as a new user would. ``FLASKR_LOGGING`` picks how it sets up
logging: ``none`` (Flask's and werkzeug's defaults), ``basic`` (``logging.basicConfig``) or ``dict``
(``logging.config.dictConfig``, as Flask's docs recommend).
"""

from __future__ import annotations

import logging
import logging.config
import os
import sqlite3

from flask import Flask, g, request

_mode = os.environ.get("FLASKR_LOGGING", "none")
if _mode == "basic":
    logging.basicConfig(level=logging.INFO, format="flaskr-basic %(levelname)s %(name)s: %(message)s")
elif _mode == "dict":
    logging.config.dictConfig(
        {
            "version": 1,
            "formatters": {"plain": {"format": "flaskr-dict [%(levelname)s] %(name)s: %(message)s"}},
            "handlers": {
                "console": {
                    "class": "logging.StreamHandler",
                    "stream": "ext://sys.stderr",
                    "formatter": "plain",
                }
            },
            "root": {"level": "INFO", "handlers": ["console"]},
        }
    )

log = logging.getLogger("flaskr")


def create_app() -> Flask:
    app = Flask(__name__)
    database = os.environ.get("FLASKR_DATABASE", os.path.join(app.instance_path, "flaskr.sqlite"))

    def db() -> sqlite3.Connection:
        if "db" not in g:
            g.db = sqlite3.connect(database)
            g.db.execute("CREATE TABLE IF NOT EXISTS post (id INTEGER PRIMARY KEY, title TEXT, body TEXT)")
        return g.db

    @app.teardown_appcontext
    def close_db(_exc: BaseException | None) -> None:
        connection = g.pop("db", None)
        if connection is not None:
            connection.close()

    @app.get("/")
    def index() -> dict[str, object]:
        rows = db().execute("SELECT id, title FROM post ORDER BY id").fetchall()
        return {"posts": [{"id": r[0], "title": r[1]} for r in rows]}

    @app.post("/create")
    def create() -> tuple[dict[str, object], int]:
        title = request.form.get("title", "")
        author = request.form.get("author", "")
        connection = db()
        cursor = connection.execute("INSERT INTO post (title, body) VALUES (?, ?)", (title, ""))
        connection.commit()
        log.info("created post %r by %s", title, author)
        return {"id": cursor.lastrowid}, 201

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("flaskr boom for " + request.args.get("who", "nobody"))

    return app
