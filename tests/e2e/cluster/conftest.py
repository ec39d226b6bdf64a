"""One cluster (scripts/cluster.py) for this package's tests: started once, stopped after the last."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import select

from models.db import get_sessionmaker
from models.reference.tables import User
from scripts.cluster import Cluster
from tests.helpers import artifacts, free_port
from tests.pg import create_database, postgres_url

# Redis databases of their own: the machine's Redis may serve others.
REDIS_DBS = (14, 15)


@pytest.fixture(autouse=True)
def every_part_running() -> None:
    """Not the shared stack of tests/e2e/conftest.py: these tests run their own cluster."""


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = postgres_url()
    assert base
    instance = tmp_path_factory.mktemp("cluster")
    for db in REDIS_DBS:
        redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()
    cluster = Cluster(
        instance=instance,
        database_url=create_database(base, "control_room_cluster"),
        prefect_database_url=create_database(base, "prefect_cluster", driver="asyncpg"),
        web_port=free_port(),
        prefect_port=free_port(),
        smtp_port=free_port(),
        api_ports=[free_port(), free_port()],
        web_ports=[free_port(), free_port()],
        redis_url=f"redis://127.0.0.1:6379/{REDIS_DBS[0]}",
        docket_url=f"redis://127.0.0.1:6379/{REDIS_DBS[1]}",
        demo=True,
        web_workers=1,
        work_limit=2,
        # No scheduled sweeps and handovers: two cores, and these tests are about the complaints.
        extra_env={"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"},
    )
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.shutdown()
        for log in sorted((instance / "logs").glob("*.log")):
            (artifacts() / f"cluster-{log.name}").write_bytes(log.read_bytes()[-200_000:])


@pytest.fixture(scope="package")
def password(cluster: Cluster) -> str:
    return (cluster.instance / "demo-password.txt").read_text().strip()


@pytest.fixture(scope="package")
def cmho_id(cluster: Cluster) -> str:
    """The demo district's CMHO as the assign form names an officer."""
    with get_sessionmaker(cluster.database_url)() as session:
        user_id = session.scalar(select(User.id).where(User.username == "cmho"))
    assert user_id is not None
    return str(user_id)
