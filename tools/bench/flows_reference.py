"""The seed-004 design, as flowd's benchmark reference: FastAPI + SQLite, each
POST inserting its records as raw rows, each GET aggregating on read (GROUP BY),
SQLite on its defaults. Written here from the seed's description, not copied.
Runs with Debian's python3-fastapi and python3-uvicorn (/usr/bin/python3).

    /usr/bin/python3 flows_reference.py PORT DB_PATH
"""
import sqlite3
import sys
import threading
from typing import List

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class FlowObject(BaseModel):
    src_app: str
    dest_app: str
    vpc_id: str
    hour: int
    bytes_rx: int
    bytes_tx: int


port, path = int(sys.argv[1]), sys.argv[2]
db = sqlite3.connect(path, check_same_thread=False)
db.execute("CREATE TABLE IF NOT EXISTS raw(src_app TEXT, dest_app TEXT, vpc_id TEXT, hour INTEGER, bytes_rx INTEGER, bytes_tx INTEGER)")
db.commit()
lock = threading.Lock()
app = FastAPI()


@app.post("/flows", status_code=201)
def post_flows(flows: List[FlowObject]):
    with lock:
        db.executemany("INSERT INTO raw VALUES(?,?,?,?,?,?)",
                       [(f.src_app, f.dest_app, f.vpc_id, f.hour, f.bytes_rx, f.bytes_tx) for f in flows])
        db.commit()
    return {"accepted": len(flows)}


@app.get("/flows")
def get_flows(hour: int):
    with lock:
        rows = db.execute("SELECT src_app, dest_app, vpc_id, hour, SUM(bytes_rx), SUM(bytes_tx) FROM raw WHERE hour=?"
                          " GROUP BY src_app, dest_app, vpc_id ORDER BY src_app, dest_app, vpc_id", (hour,)).fetchall()
    return [{"src_app": r[0], "dest_app": r[1], "vpc_id": r[2], "hour": r[3], "bytes_rx": r[4], "bytes_tx": r[5]} for r in rows]


uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
