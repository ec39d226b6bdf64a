"""Cases: the intake form, each role's queue, the case page and the decisions on it."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from models.cases.callback import tries_used_up, unanswered_tries
from models.cases.callers import likely_same
from models.cases.decisions import (
    Intake,
    NotAllowed,
    StaleDecision,
    decide,
    may_act,
    officers_for,
    open_case,
    queue_for,
    recently_closed,
    reopenable,
)
from models.cases.lifecycle import WAITING_ON, Action, InvalidTransition, State, allowed_actions
from models.cases.merging import merge_event, merged_into_this, undoable
from models.cases.seen import current_deliveries, minutes_to_seen, seen_by_waiting
from models.cases.tables import Case, CaseEvent, Priority
from models.emergency.cases import AdmissionFacts, record_admission
from models.emergency.tables import Admission
from models.messages import CallerMessage, Delivery, queue_again
from models.outbox import Outbox, parked
from models.reference.tables import Category, Role, User
from models.reference.villages import by_block
from webapp import history, runs
from webapp.auth import roles_required
from webapp.caselist import audited
from webapp.db import get_session
from webapp.desk import call_for_intake
from webapp.forms import (
    AdmissionForm,
    AssignForm,
    CloseUnverifiedForm,
    ConfirmForm,
    DecisionForm,
    EmptyForm,
    IntakeForm,
    MergeForm,
    NotSatisfiedForm,
    RejectForm,
    ReopenClosedForm,
    ReopenForm,
    ResolveForm,
    SatisfiedForm,
    SendBackForm,
    UnreachableForm,
    village_choices,
)
from webapp.labels import localized

bp = Blueprint("cases", __name__)

DECISION_FORMS: dict[Action, type[DecisionForm]] = {
    Action.assign: AssignForm,
    Action.reject: RejectForm,
    Action.resolve: ResolveForm,
    Action.send_back: SendBackForm,
    Action.satisfied: SatisfiedForm,
    Action.not_satisfied: NotSatisfiedForm,
    Action.unreachable: UnreachableForm,
    Action.close_unverified: CloseUnverifiedForm,
    Action.confirm: ConfirmForm,
    Action.reopen: ReopenForm,
    Action.reopen_closed: ReopenClosedForm,
}


def get_case(number: str) -> Case:
    """Return the case, if this user may see it. :raise 404: no such case. :raise 403: not theirs."""
    case = get_session().scalar(select(Case).where(Case.number == number))
    if case is None:
        abort(404, _("Case %(number)s doesn't exist.", number=number))
    if current_user.role == Role.officer and case.officer_id != current_user.id:
        # Officers see the cases assigned to them, and those they acted on before.
        if not any(e.by_user_id == current_user.id or e.officer_id == current_user.id for e in case.events):
            abort(403)
    return case


def fill_intake_choices(form: IntakeForm) -> None:
    db = get_session()
    form.village.choices = village_choices(by_block(db))
    form.category.choices = [SelectChoice(0, "—")] + [
        SelectChoice(c.id, localized(c)) for c in db.scalars(select(Category).order_by(Category.name))
    ]


@bp.route("/")
@login_required
def index() -> Response:
    return redirect(url_for("cases.queue"))


@bp.route("/queue")
@login_required
def queue() -> str:
    db = get_session()
    cases = queue_for(db, current_user)
    return render_template("cases/queue.html", cases=cases, seen=seen_by_waiting(db, cases))


@bp.route("/cases/new", methods=["GET", "POST"])
@roles_required(Role.operator, Role.admin)
def new() -> Any:
    form = IntakeForm()
    fill_intake_choices(form)
    call = call_for_intake(form)  # a complaint call logged on the desk pre-fills the form
    if not form.token.data:
        form.token.data = secrets.token_urlsafe(24)
    if form.validate_on_submit():
        errors = False
        if form.village.data == 0:
            form.village.errors.append(_("Choose the caller's village."))  # type: ignore[union-attr]
            errors = True
        if form.category.data == 0:
            form.category.errors.append(_("Choose a category."))  # type: ignore[union-attr]
            errors = True
        db = get_session()
        now = datetime.now(UTC)
        closed = None if errors or form.new_anyway.data else recently_closed(db, form.phone.data, now)
        if closed is not None:
            # The caller complained before and that case closed lately: offer to reopen it.
            offer = ReopenClosedForm(prefix=Action.reopen_closed.value, version=closed.decisions)
            offer.text.data = form.description.data
            return render_template("cases/new.html", form=form, closed=closed, offer=offer), 200
        if not errors:
            case = open_case(
                db,
                Intake(
                    token=form.token.data,
                    caller_name=form.caller_name.data.strip(),
                    phone=form.phone.data,
                    village_id=form.village.data,
                    category_id=form.category.data,
                    description=form.description.data.strip(),
                    priority=Priority(form.priority.data),
                    language=form.language.data,
                ),
                by=current_user,
                prefix=current_app.config["SETTINGS"].district_prefix,
                now=now,
            )
            if call is not None:
                call.case_id = case.id
            db.commit()
            flash(_("Case %(number)s opened. Read this number to the caller.", number=case.number), "success")
            return redirect(url_for("cases.view", number=case.number))
    status = 400 if form.is_submitted() else 200
    return render_template("cases/new.html", form=form), status


def form_class(case: Case, action: Action) -> type[DecisionForm]:
    """The form of action on case: an emergency's resolution records the admission."""
    if case.emergency and action == Action.resolve:
        return AdmissionForm
    return DECISION_FORMS[action]


def decision_forms(case: Case, user: User | None = None) -> dict[str, DecisionForm]:
    """The forms user (by default the one signed in) may submit on case, keyed by action."""
    forms: dict[str, DecisionForm] = {}
    for action in allowed_actions(case.state):
        if action == Action.reopen_closed and not reopenable(case, datetime.now(UTC)):
            continue
        if action == Action.close_unverified and not tries_used_up(get_session(), case):
            continue
        if may_act(user or current_user, case, action):
            form = form_class(case, action)(prefix=action.value, version=case.decisions)
            if isinstance(form, AssignForm):
                form.officer.choices = officer_choices(case)
            forms[action.value] = form
    return forms


def officer_choices(case: Case) -> list[SelectChoice]:
    """The officers who may take case, after a blank first choice (AssignForm refuses it)."""
    return [SelectChoice(0, _("— Choose an officer —"))] + [
        SelectChoice(o.id, f"{o.name}, {o.designation}" if o.designation else o.name)
        for o in officers_for(get_session(), case.category)
    ]


def render_case(
    case: Case,
    forms: dict[str, DecisionForm] | None = None,
    status: int = 200,
    merge_form: MergeForm | None = None,
) -> Any:
    db = get_session()
    now = datetime.now(UTC)
    merger = may_act(current_user, case, Action.merge)
    is_open = State(case.state) in WAITING_ON
    if merger and is_open and merge_form is None:
        merge_form = MergeForm(prefix="merge", version=case.decisions)
    merged_here = merged_into_this(db, case)
    events = sorted(
        [*case.events, *(e for other in merged_here for e in other.events)],
        key=lambda e: (e.created_at, e.id),
    )
    deliveries = db.scalars(select(Delivery).where(Delivery.case_id == case.id).order_by(Delivery.id)).all()
    to_caller = db.scalars(
        select(CallerMessage).where(CallerMessage.case_id == case.id).order_by(CallerMessage.id)
    ).all()
    mine = current_deliveries(db, case.id, current_user.id)  # the Seen button's
    return (
        render_template(
            "cases/view.html",
            case=case,
            forms=forms if forms is not None else decision_forms(case),
            deliveries=deliveries,
            to_caller=to_caller,
            admission=db.scalar(select(Admission).where(Admission.case_id == case.id)),
            verdict=caller_verdict(case),
            tries=unanswered_tries(db, case) if case.state == State.callback else 0,
            retry_form=EmptyForm(),
            mine=bool(mine),
            mine_seen=min((d.seen_at for d in mine if d.seen_at is not None), default=None),
            seen_after={d.id: minutes_to_seen(d) for d in deliveries if d.seen_at is not None},
            passed_on={d.follows_id for d in deliveries if d.follows_id is not None},
            events=events,
            merged_here={other.id: other for other in merged_here},
            merge_form=merge_form if merger and is_open else None,
            similar=[f.case for f in similar_open(db, case, now)] if merger and is_open else [],
            merged=merge_event(db, case),
            unmerge_form=DecisionForm(prefix="unmerge", version=case.decisions)
            if merger and undoable(db, case, now, current_app.config["SETTINGS"].shifts)
            else None,
            # What the engine gave up on: the DM, the Collector and the admin must see it.
            stuck=parked(db, case.id) if current_user.role in (Role.dm, Role.collector, Role.admin) else [],
        ),
        status,
    )


def similar_open(db: Any, case: Case, now: datetime) -> list[Any]:
    """The other open cases that look like this one's problem: where it might be merged."""
    found = likely_same(
        db,
        now,
        village_id=case.village_id,
        category_id=case.category_id,
        phone=case.phone,
        text=case.description,
    )
    return [f for f in found if f.case.id != case.id]


def caller_verdict(case: Case) -> CaseEvent | None:
    """What the caller said on the call back after the officer's latest resolution (satisfied with a
    rating, or the closure without their word); None before the call back ended."""
    verdict = None
    for event in case.events:
        if event.kind == Action.resolve:
            verdict = None
        elif event.kind in (Action.satisfied, Action.close_unverified):
            verdict = event
    return verdict


@bp.route("/cases/<number>")
@login_required
def view(number: str) -> Any:
    case = get_case(number)
    audited("view", case.number)
    return render_case(case)


@bp.post("/cases/<number>/<action>")
@login_required
def act(number: str, action: str) -> Any:
    """Apply a decision. :raise 404: unknown action. :raise 403: not this user's to take."""
    try:
        chosen = Action(action)
    except ValueError:
        abort(404)
    if chosen not in DECISION_FORMS:  # a merge has its own form (webapp/merging.py)
        abort(404)
    case = get_case(number)
    form = form_class(case, chosen)(prefix=chosen.value)
    if isinstance(form, AssignForm):
        form.officer.choices = officer_choices(case)
    if not may_act(current_user, case, chosen):
        abort(403)
    forms = decision_forms(case)
    forms[chosen.value] = form
    if not form.validate_on_submit():
        return render_case(case, forms, 400)
    db = get_session()
    try:
        apply_decision(db, case, chosen, form, current_user, datetime.now(UTC))
    except NotAllowed:
        db.rollback()
        abort(403)
    except (StaleDecision, InvalidTransition):
        db.rollback()
        db.refresh(case)
        moved_on = _(
            "This case has moved on since you opened it; nothing was changed. Here is where it stands now."
        )  # noqa: E501
        flash(moved_on, "error")
        return render_case(case, None, 409)
    db.commit()
    # True when it shows: the messages go out later, when a dispatcher hands the decision to Prefect.
    flash(_("Saved. Its messages are queued and appear under Notifications as they go out."), "success")
    return redirect(url_for("cases.view", number=case.number))


def apply_decision(
    db: Any, case: Case, chosen: Action, form: DecisionForm, user: Any, now: datetime, via: str = ""
) -> None:
    """Take the decision of a validated form as `user`, signed in or through a one-tap link (`via`);
    an emergency's resolution records the admission too. Never commits.

    :raise NotAllowed, StaleDecision, InvalidTransition: as models/cases/decisions.decide.
    """
    decide(
        db,
        case,
        chosen,
        user,
        version=form.version.data,
        now=now,
        text=(form.text.data or "").strip(),  # type: ignore[attr-defined]
        officer_id=getattr(getattr(form, "officer", None), "data", None),
        rating=getattr(getattr(form, "rating", None), "data", None),
        via=via,
    )
    if isinstance(form, AdmissionForm):
        facts = AdmissionFacts(form.hospital.data.strip(), form.bed.data.strip(), form.ambulance.data.strip())
        record_admission(db, case, facts, user, now)


@bp.post("/deliveries/<int:delivery_id>/retry")
@roles_required(Role.collector, Role.dm, Role.admin)
def retry_delivery(delivery_id: int) -> Response:
    """Queue a failed delivery to be sent again by the send-retries run. :raise 404: no such delivery."""
    db = get_session()
    delivery = db.get(Delivery, delivery_id)
    if delivery is None:
        abort(404, f"Delivery {delivery_id} doesn't exist.")
    number = db.get_one(Case, delivery.case_id).number
    if EmptyForm().validate_on_submit():
        # Failed -> pending, due now, with the outbox row that starts a run: one transaction.
        if queue_again(db, Delivery, delivery_id, datetime.now(UTC)):
            db.add(Outbox(kind="retries", case_id=None, payload={}))
            db.commit()
            flash(_("Queued: the message will be sent again within a minute."), "success")
        else:
            flash(_("This message is already queued or sent."), "success")
    return redirect(url_for("cases.view", number=number))


@bp.route("/cases/<number>/timeline")
@roles_required(Role.collector, Role.dm, Role.admin)
def timeline(number: str) -> str:
    """The audit view: the case's business steps; with ?detail=engine, every state and task of its run."""
    case = get_case(number)
    db = get_session()
    deliveries = db.scalars(select(Delivery).where(Delivery.case_id == case.id)).all()
    # Commits, which hands the connection back to the pool: Prefect may be slow to answer, and
    # timelines waiting on it must not hold the connections the operators' pages need.
    audited("view", case.number)
    run = runs.run_history(case.flow_run_id, current_app.config["SETTINGS"])
    to_caller = db.scalars(select(CallerMessage).where(CallerMessage.case_id == case.id)).all()
    detail = request.args.get("detail") == "engine"
    return history.page(case, deliveries, run, detail=detail, to_caller=to_caller)
