"""Admin commands: `flask --app webapp <command>`."""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from models.access.sessions import end_all
from models.config import INSTANCE, LANGUAGES
from models.db import get_sessionmaker
from models.reference.loading import LOADERS, ImportFailed, load_csv
from models.reference.tables import Role, User


def _factory():  # type: ignore[no-untyped-def]
    return get_sessionmaker(current_app.config["SETTINGS"].database_url)


def _read_password() -> str:
    password = (
        sys.stdin.readline().rstrip("\n")
        if not sys.stdin.isatty()
        else click.prompt("Password", hide_input=True, confirmation_prompt=True)
    )
    if len(password) < 8:
        raise click.ClickException("the password must have at least 8 characters")
    return password


def register(app: Flask) -> None:
    @app.cli.command("migrate")
    def migrate() -> None:
        """Create or upgrade the database schema (Alembic)."""
        from models.migrate import upgrade  # here: Alembic is ~20 MB the web app's processes need not hold

        upgrade(current_app.config["SETTINGS"].database_url)
        click.echo("database is up to date")

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
    @click.option("--name", required=True)
    @click.option("--notify", "notify_urls", multiple=True, help="An Apprise URL (repeatable).")
    @click.option("--language", type=click.Choice(list(LANGUAGES)), default="en")
    @click.option("--department", default="", help="Department code (officers).")
    def create_user(
        username: str, role: str, name: str, notify_urls: tuple[str, ...], language: str, department: str
    ) -> None:
        """Create or update a user; the password is read from standard input."""
        from models.reference.tables import Department

        password = _read_password()
        with _factory().begin() as session:
            dept = (
                session.scalar(select(Department).where(Department.code == department))
                if department
                else None
            )
            if department and dept is None:
                raise click.ClickException(f"unknown department {department!r}")
            user = session.scalar(select(User).where(User.username == username)) or User(username=username)
            session.add(user)
            user.role, user.name, user.language = Role(role), name, language
            user.notify_urls = "\n".join(notify_urls)
            user.department_id = dept.id if dept else None
            user.password_hash = generate_password_hash(password)
        click.echo(f"user {username} ({role}) saved")

    @app.cli.command("set-password")
    @click.argument("username")
    def set_password(username: str) -> None:
        """Set a user's password from standard input."""
        password = _read_password()
        with _factory().begin() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise click.ClickException(f"no user {username!r}")
            user.password_hash = generate_password_hash(password)
            ended = end_all(session, user.id, datetime.now(UTC), "password")
        click.echo(f"password of {username} set; {ended} sign-ins ended")

    @app.cli.command("set-link-pin")
    @click.argument("username")
    @click.option("--clear", is_flag=True, help="Ask no PIN any more.")
    def set_link_pin(username: str, clear: bool) -> None:
        """Set the PIN (4 to 12 digits, from standard input) a user's one-tap links ask before a decision."""
        pin = ""
        if not clear:
            pin = (
                sys.stdin.readline().strip()
                if not sys.stdin.isatty()
                else click.prompt("PIN", hide_input=True, confirmation_prompt=True)
            )
            if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 12):
                raise click.ClickException("the PIN must be 4 to 12 digits")
        with _factory().begin() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise click.ClickException(f"no user {username!r}")
            user.link_pin = generate_password_hash(pin) if pin else None
        click.echo(f"link PIN of {username} {'set' if pin else 'cleared'}")

    @app.cli.command("sign-out")
    @click.argument("username")
    def sign_out(username: str) -> None:
        """End every sign-in of a user (a lost phone, someone who left)."""
        with _factory().begin() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise click.ClickException(f"no user {username!r}")
            ended = end_all(session, user.id, datetime.now(UTC), "admin")
        click.echo(f"{username}: {ended} sign-ins ended")

    @app.cli.command("board-link")
    @click.argument("name")
    @click.option("--by", "username", default="", help="The admin it is made by (default: the first admin).")
    @click.option("--language", type=click.Choice(["", *LANGUAGES]), default="", help="Default: the screen's")
    def board_link(name: str, username: str, language: str) -> None:
        """Make a board link (the wall board without a sign-in) and print its address, shown this once."""
        from models.access.board_links import NAME_MAX, board_url, make_link
        from models.oversight.audit import record

        if not name.strip() or len(name) > NAME_MAX:
            raise click.ClickException(f"the name needs 1 to {NAME_MAX} characters")
        admins = select(User).where(User.role == Role.admin, User.active.is_(True))
        if username:
            admins = admins.where(User.username == username)
        now = datetime.now(UTC)
        with _factory().begin() as session:
            admin = session.scalars(admins.order_by(User.id)).first()
            if admin is None:
                raise click.ClickException(f"no active admin {username!r}" if username else "no active admin")
            made = make_link(session, name, admin, now, language)
            record(session, admin, "board-link-made", f"{name.strip()} (#{made.link_id})", now)
        click.echo(board_url(current_app.config["SETTINGS"].public_url, made.token))

    @app.cli.group("api-key")
    def api_key() -> None:
        """Keys of the client systems that file complaints through the Open311 API."""

    @api_key.command("make")
    @click.argument("name")
    def make_api_key(name: str) -> None:
        """Make a key for the client NAME and print it (once: only its digest is kept)."""
        from models.api.keys import KeyRefused, make_key

        with _factory().begin() as session:
            try:
                key = make_key(session, name, datetime.now(UTC))
            except KeyRefused as exc:
                raise click.ClickException(str(exc)) from None
        click.echo(f"API key of {name} (shown only now; keep it in the client's secrets):")
        click.echo(key)

    @api_key.command("revoke")
    @click.argument("name")
    def revoke_api_key(name: str) -> None:
        """Revoke the key of the client NAME: its POSTs are refused from now on."""
        from models.api.keys import KeyRefused, revoke_key

        with _factory().begin() as session:
            try:
                revoke_key(session, name, datetime.now(UTC))
            except KeyRefused as exc:
                raise click.ClickException(str(exc)) from None
        click.echo(f"the key of {name} is revoked")

    @app.cli.command("load-csv")
    @click.argument("kind", type=click.Choice(sorted(LOADERS)))
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def load(kind: str, path: Path) -> None:
        """Load reference data or the escalation ladder from a CSV file (all rows or none)."""
        with _factory()() as session, path.open(encoding="utf-8-sig", newline="") as stream:
            try:
                report = load_csv(session, kind, stream)
            except ImportFailed as exc:
                for error in exc.report.errors:
                    click.echo(f"{path}: {error}", err=True)
                raise click.ClickException(f"nothing imported: {len(exc.report.errors)} bad rows") from None
            session.commit()
        click.echo(f"{kind}: {report.created} created, {report.updated} updated")

    @app.cli.command("load-contacts")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--roles", is_flag=True, help="The file holds contact roles (code,name,name_hi).")
    def load_contacts_command(path: Path, roles: bool) -> None:
        """Load the field directory (block,village,role,name,phone,active) from CSV: all rows or none."""
        from models.desk.contacts import load_contacts, load_roles

        with _factory()() as session, path.open(encoding="utf-8-sig", newline="") as stream:
            try:
                if roles:
                    done = f"contact roles: {load_roles(session, stream)} saved"
                else:
                    report = load_contacts(session, stream)
                    done = f"contacts: {report.created} created, {report.updated} updated"
            except ImportFailed as exc:
                for error in exc.report.errors:
                    click.echo(f"{path}: {error}", err=True)
                raise click.ClickException(f"nothing imported: {len(exc.report.errors)} bad rows") from None
            session.commit()
        click.echo(done)

    @app.cli.command("seed-demo")
    @click.option("--mail-sink", default="127.0.0.1:8025")
    def seed_demo(mail_sink: str) -> None:
        """Load a small demo district with one user per role (demo mode only)."""
        from models.demo import seed

        if not current_app.config["SETTINGS"].demo:
            raise click.ClickException("seed-demo needs CONTROL_ROOM_DEMO=true")
        credentials = INSTANCE / "demo-password.txt"
        if credentials.exists():
            password = credentials.read_text().strip()
        else:
            password = secrets.token_urlsafe(9)
            credentials.parent.mkdir(parents=True, exist_ok=True)
            credentials.write_text(password + "\n")
        with _factory().begin() as session:
            users = seed(session, generate_password_hash(password), mail_sink)
            names = [(u.username, u.role) for u in users]
        click.echo(f"Demo users (password for all: {password}):")
        for username, role in names:
            click.echo(f"  {username:10} {role}")
