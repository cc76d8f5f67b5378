"""The seed-003 design, as orchd's benchmark reference: FastAPI + SQLAlchemy (ORM) + SQLite on its defaults,
written here from the seed's description (not copied): deployments, nodes, telemetry samples and events as ORM
models; a lifecycle tick that loads the nodes in non-terminal states, moves the due ones and commits once; the
analytics service's deviation analysis over the samples of a window. Runs with Debian's python3-fastapi,
python3-uvicorn and python3-sqlalchemy (/usr/bin/python3).

    /usr/bin/python3 orch_reference.py serve PORT DB          POST /deployments, GET /health
    /usr/bin/python3 orch_reference.py tick DB D N ROUNDS     one tick over D x N nodes: all due, then none due
    /usr/bin/python3 orch_reference.py bottlenecks DB N MINUTES ROUNDS
"""
import datetime
import os
import statistics
import sys
import time

from sqlalchemy import Column, DateTime, Float, ForeignKey, Integer, String, Text, create_engine
from sqlalchemy.orm import declarative_base, relationship, sessionmaker

Base = declarative_base()


class Deployment(Base):
    __tablename__ = "deployments"
    id = Column(Integer, primary_key=True)
    name = Column(String(255), nullable=False)
    description = Column(Text)
    target_node_count = Column(Integer, nullable=False)
    created_at = Column(DateTime, default=datetime.datetime.utcnow)
    updated_at = Column(DateTime, default=datetime.datetime.utcnow)
    nodes = relationship("Node", back_populates="deployment", cascade="all, delete-orphan")


class Node(Base):
    __tablename__ = "nodes"
    id = Column(Integer, primary_key=True)
    deployment_id = Column(Integer, ForeignKey("deployments.id"), nullable=False, index=True)
    node_id = Column(String(64), nullable=False)
    state = Column(String(32), nullable=False, default="PENDING", index=True)
    hostname = Column(String(255))
    ip_address = Column(String(64))
    created_at = Column(DateTime, default=datetime.datetime.utcnow)
    updated_at = Column(DateTime, default=datetime.datetime.utcnow)
    state_changed_at = Column(DateTime, default=datetime.datetime.utcnow)
    deployment = relationship("Deployment", back_populates="nodes")


class TelemetrySample(Base):
    __tablename__ = "telemetry_samples"
    id = Column(Integer, primary_key=True)
    node_id = Column(Integer, ForeignKey("nodes.id"), nullable=False, index=True)
    deployment_id = Column(Integer, ForeignKey("deployments.id"), nullable=False, index=True)
    timestamp = Column(DateTime, nullable=False, index=True)
    latency_ms = Column(Float)
    throughput_gbps = Column(Float)
    error_rate = Column(Float)


class Event(Base):
    __tablename__ = "events"
    id = Column(Integer, primary_key=True)
    deployment_id = Column(Integer, ForeignKey("deployments.id"), index=True)
    node_id = Column(Integer)
    event_type = Column(String(64), nullable=False)
    message = Column(Text)
    created_at = Column(DateTime, default=datetime.datetime.utcnow)


def session_for(path):
    engine = create_engine("sqlite:///" + path, connect_args={"check_same_thread": False})
    Base.metadata.create_all(engine)
    return sessionmaker(bind=engine)


def create_deployment(db, name, description, count):
    d = Deployment(name=name, description=description, target_node_count=count)
    db.add(d)
    db.flush()
    for i in range(1, count + 1):
        db.add(Node(deployment_id=d.id, node_id="node-%03d" % i, state="PENDING", hostname="switch-%d-%03d" % (d.id, i)))
    db.add(Event(deployment_id=d.id, event_type="DEPLOYMENT_CREATED", message="created"))
    db.commit()
    db.refresh(d)
    return d


def lifecycle_tick(db, now):
    """The lifecycle worker's pass: every node in a non-terminal state, moved when due; one commit."""
    moved = 0
    for n in db.query(Node).filter(Node.state.in_(["PENDING", "PROVISIONING", "CONFIGURING"])).all():
        elapsed = (now - n.state_changed_at).total_seconds()
        new = None
        if n.state == "PENDING":
            new = "PROVISIONING"
            n.ip_address = "10.0.%d.%d" % (n.deployment_id, n.id % 255)
        elif n.state == "PROVISIONING" and elapsed >= 3 + n.id % 5:
            new = "CONFIGURING"
        elif n.state == "CONFIGURING" and elapsed >= 5 + n.id % 7:
            new = "FAILED" if (n.id + n.deployment_id) % 20 == 0 else "RUNNING"
        if new:
            db.add(Event(deployment_id=n.deployment_id, node_id=n.id, event_type="STATE_CHANGE",
                         message="Node %d transitioned from %s to %s" % (n.id, n.state, new)))
            n.state, n.state_changed_at, n.updated_at = new, now, now
            moved += 1
    db.commit()
    return moved


def detect_bottlenecks(db, deployment_id, window_minutes):
    """The analytics service: baseline mean and sd of the window's samples, each node's means, z, weighted score."""
    since = datetime.datetime.utcnow() - datetime.timedelta(minutes=window_minutes)
    rows = db.query(TelemetrySample).filter(TelemetrySample.deployment_id == deployment_id, TelemetrySample.timestamp >= since).all()
    if len(rows) < 2:
        return []
    base = {}
    for f in ("latency_ms", "throughput_gbps", "error_rate"):
        v = [getattr(r, f) for r in rows]
        base[f] = (statistics.mean(v), statistics.stdev(v))
    by_node = {}
    for r in rows:
        by_node.setdefault(r.node_id, []).append(r)
    out = []
    for nid, rs in by_node.items():
        z = {}
        for f, d in (("latency_ms", 1), ("throughput_gbps", -1), ("error_rate", 1)):
            m, sd = base[f]
            z[f] = d * (statistics.mean(getattr(r, f) for r in rs) - m) / sd if sd > 0 else 0.0
        if max(z.values()) >= 2.0:
            out.append((nid, 0.4 * max(0, z["latency_ms"]) + 0.4 * max(0, z["throughput_gbps"]) + 0.2 * max(0, z["error_rate"])))
    return sorted(out, key=lambda x: -x[1])


def serve(port, path):
    import uvicorn
    from fastapi import FastAPI
    from pydantic import BaseModel, Field

    class DeploymentCreate(BaseModel):
        name: str = Field(..., min_length=1, max_length=255)
        description: str = None
        target_node_count: int = Field(..., ge=1, le=1000)

    Session = session_for(path)
    app = FastAPI()

    @app.post("/deployments", status_code=201)
    def post(body: DeploymentCreate):
        db = Session()
        try:
            d = create_deployment(db, body.name, body.description, body.target_node_count)
            return {"id": d.id, "name": d.name, "description": d.description, "target_node_count": d.target_node_count,
                    "created_at": d.created_at, "updated_at": d.updated_at}
        finally:
            db.close()

    @app.get("/health")
    def health():
        return {"status": "healthy"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def bench_tick(path, deployments, nodes, rounds):
    due, steady = [], []
    for r in range(rounds):
        if os.path.exists(path):
            os.unlink(path)
        Session = session_for(path)
        db = Session()
        for k in range(deployments):
            create_deployment(db, "d%d" % k, None, nodes)
        t0 = time.perf_counter()
        moved = lifecycle_tick(db, datetime.datetime.utcnow())
        due.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        lifecycle_tick(db, datetime.datetime.utcnow())
        steady.append(time.perf_counter() - t0)
        db.close()
    print("tick_all_due_s %.6f moved %d\ntick_none_due_s %.6f" % (statistics.median(due), moved, statistics.median(steady)))


def bench_bottlenecks(path, nodes, minutes, rounds):
    if os.path.exists(path):
        os.unlink(path)
    Session = session_for(path)
    db = Session()
    d = create_deployment(db, "b", None, nodes)
    ids = [n.id for n in d.nodes]
    now = datetime.datetime.utcnow()
    # The reference's telemetry worker: one sample per running node every 5 s.
    rows = []
    for step in range(minutes * 12):
        ts = now - datetime.timedelta(seconds=5 * step)
        for nid in ids:
            nf = nid % 10
            rows.append({"node_id": nid, "deployment_id": d.id, "timestamp": ts, "latency_ms": 10 + 2 * nf if nf < 8 else 50 + (nf - 7) * 20,
                         "throughput_gbps": 9.5 - 0.1 * nf, "error_rate": 0.1 + 0.02 * nf})
    db.bulk_insert_mappings(TelemetrySample, rows)
    db.commit()
    took = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        found = detect_bottlenecks(db, d.id, minutes)
        took.append(time.perf_counter() - t0)
    print("bottlenecks_s %.6f samples %d flagged %d" % (statistics.median(took), len(rows), len(found)))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "serve":
        serve(int(sys.argv[2]), sys.argv[3])
    elif mode == "tick":
        bench_tick(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        bench_bottlenecks(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
