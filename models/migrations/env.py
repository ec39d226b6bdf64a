"""Alembic environment: migrate the database named in the config to models' metadata."""

from alembic import context

import models  # noqa: F401 - registers every table on Base.metadata
from models.cases.search import mapped_only
from models.db import Base, get_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    with get_engine(url).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            include_object=mapped_only,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
