"""The pytest plugin: runs workbook features as a SIT run that writes the event log.

Hook order for each scenario: ``pytest_bdd_before_scenario`` opens it (N/A scenarios stop
there, recorded with their reason); each step is recorded before and after it runs, with
what the partner side saw in between, and committed before it is reported; the report
hook closes the scenario with its status. Steps get the scenario through the ``sit`` fixture.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Generator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from harness import interrupts, step_lookup
from harness.errors import EXIT_HARNESS, HarnessError, ProfileError, SitError
from harness.events import EventLogError
from harness.features import SIT_PREFIX, sit_id_of
from harness.partner_mode import PARTNER_MODES
from harness.profiles import Biller, belongs, load_biller
from harness.scenario import NotRunnable, ScenarioContext, scenario_faker
from harness.session import RunOptions, SitSession
from harness.stubs import BACKENDS
from harness.stubs.shared import SharedWireMock

SESSION = pytest.StashKey[SitSession | None]()
CURRENT = pytest.StashKey[dict[str, Any]]()
SIGNALS = pytest.StashKey[ExitStack]()  # signal handling, when pytest (not `sit run`) runs the workbook
# Several billers (`--biller A --biller B`): each workbook scenario runs once per biller, as the parameter
# BILLER_PARAM; each biller is its own run, with its own session, started at its first scenario in this process
# (an xdist worker) and finished after its last. BROKEN holds a biller whose session could not start.
SESSIONS = pytest.StashKey[dict[str, SitSession]]()
BROKEN = pytest.StashKey[dict[str, SitError | EventLogError]]()
# Each biller's last selected scenario (key None: the run's one biller), and the billers whose last one ran: only
# those runs finish; a run the session ends before its last scenario (xdist told its worker to stop) is interrupted.
LAST = pytest.StashKey[dict[str | None, str]]()
ENDED = pytest.StashKey[set[str | None]]()
# Several billers: the one WireMock this process lends to each biller's session in turn (harness.stubs.shared).
WIREMOCK = pytest.StashKey[SharedWireMock]()
BILLER_PARAM = "sit_biller"
# What a scenario's report carries for `sit run`'s controller when several billers run (xdist sends a report's
# user properties to the controller): {"biller", "run_id", "sit_id", "name", "status", "error"}.
OUTCOME = "sit_outcome"
_TAGS = "_sit_tags"  # a scenario function's workbook tags, as pytest-bdd applied them


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sit", "sit-harness")
    group.addoption("--biller", action="append", help="biller slug (fixtures/billers/SLUG.yaml) or a path to a "
                    "biller profile; repeated: every biller is its own run (with xdist: -n N --dist loadgroup)")
    group.addoption("--seed", type=int, help="Faker seed (default: stable per biller)")
    group.addoption("--sit-store", help="event store: a path, sqlite:///PATH or postgresql://... "
                    "(default: $SIT_STORE, then reports/events.sqlite)")
    group.addoption("--sit-run-id", action="append", help="run id (default: a new one); with several --biller, "
                    "one per biller in the same order")
    group.addoption("--stub-backend", choices=BACKENDS, default="process", help="where WireMock runs")
    group.addoption("--wiremock-url", help="an already running WireMock (with --stub-backend external)")
    group.addoption("--wiremock-port", type=int, default=0, help="port for the WireMock process (default: free)")
    group.addoption("--stub-pack", help="serve this stub pack instead of stubs/<partner>/ (e.g. one recorded)")
    group.addoption("--operator", help="the SE who executes the SIT (default: $SIT_OPERATOR, then the biller profile)")
    group.addoption("--partner-mode", choices=PARTNER_MODES, default="stub",
                    help="stub: WireMock serves the stub pack; record: WireMock proxies the live partner; live: direct")
    group.addoption("--partner-url", help="the live partner's test endpoint (record and live modes)")
    group.addoption("--partner-ca", help="the partner's CA, or its certificate pinned (PEM)")
    group.addoption("--alluredir", help="also write the run's Allure results, projected from its log, into DIR")
    parser.addini("sit_biller", "biller the features run for by default", default="clayton-county-water")


def pytest_configure(config: pytest.Config) -> None:
    step_lookup.install()
    # `sit run` may have started the session already (to report set-up faults cleanly).
    config.stash.setdefault(SESSION, None)
    config.stash[CURRENT] = {}
    config.stash[SESSIONS], config.stash[BROKEN] = {}, {}
    run_ids = config.getoption("--sit-run-id") or []
    if run_ids and len(run_ids) != len(_biller_args(config)):
        raise pytest.UsageError("--sit-run-id: give one per --biller, in the same order")


def _biller_args(config: pytest.Config) -> list[str]:
    """The billers the options name, each once, in their order."""
    return list(dict.fromkeys(config.getoption("--biller") or [config.getini("sit_biller")]))


def _item_biller(item: pytest.Item | None) -> str | None:
    """The biller a workbook item runs for when several billers run (None: the run's one biller)."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(BILLER_PARAM) if callspec is not None else None


@pytest.fixture
def sit_biller(request: pytest.FixtureRequest) -> str | None:
    """The biller the scenario runs for when several run (the plugin parametrizes it); None for one."""
    return getattr(request, "param", None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Several billers: each workbook scenario once per biller (its id: the biller's slug)."""
    if len(ids := _biller_ids(metafunc.config)) > 1 and BILLER_PARAM in metafunc.fixturenames:
        metafunc.parametrize(BILLER_PARAM, list(ids), ids=list(ids.values()))


def _biller_ids(config: pytest.Config) -> dict[str, str]:
    """Each ``--biller`` argument's id in test ids: its slug (the argument itself if its profile does not load)."""
    return {arg: biller.slug if biller is not None else arg for arg, biller in _billers(config).items()}


@pytest.hookimpl(optionalhook=True)  # an xdist hook: xdist's controller asks for the scheduler
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Several billers under xdist: each biller's scenarios on one worker (``harness.biller_groups``)."""
    if len(ids := _biller_ids(config)) < 2:
        return None
    from harness.biller_groups import BillerScheduling

    return BillerScheduling(config, log, list(ids.values()))


@pytest.hookimpl(tryfirst=True)  # before pytest-bdd's own, which would make every tag a marker
def pytest_bdd_apply_tag(tag: str, function: Any) -> bool | None:
    """SIT IDs, sections, partners and capabilities are workbook data, not pytest markers: kept
    on the scenario's function for ``pytest_collection_modifyitems``."""
    if tag.startswith(SIT_PREFIX) or ":" in tag:
        if _TAGS not in function.__dict__:  # a workbook scenario: parametrized by biller when several run
            pytest.mark.usefixtures(BILLER_PARAM)(function)
        function.__dict__.setdefault(_TAGS, set()).add(tag)
        return True
    return None


@pytest.hookimpl(tryfirst=True)  # before -k deselects: it matches the SIT IDs added here
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the scenarios of other partners (they are not part of this biller's workbook),
    and let ``-k SIT-PAY-001`` select a scenario by its SIT ID. Several billers: each biller's scenarios
    together, in the order the billers were given (one biller's run ends before the next begins)."""
    billers = _billers(config)
    kept, foreign = [], []
    for item in items:
        tags: set[str] | None = getattr(getattr(item, "obj", None), _TAGS, None)
        biller = billers.get(_item_biller(item) or "")
        if tags is not None and biller is not None and not belongs(biller, tags):
            foreign.append(item)
            continue
        if tags is not None and (sit_id := sit_id_of(tags)):
            item.extra_keyword_matches.add(sit_id)
        kept.append(item)
    if foreign:
        config.hook.pytest_deselected(items=foreign)
    if len(billers) > 1:
        order = {arg: index for index, arg in enumerate(billers)}
        kept.sort(key=lambda item: order.get(_item_biller(item) or "", -1))
    items[:] = kept


_LOADED = pytest.StashKey[dict[str, Biller | None]]()


def _billers(config: pytest.Config) -> dict[str, Biller | None]:
    """The run's billers by their ``--biller`` argument (one biller: under ""): the started session's, else
    the profiles the options name (None where one does not load: its session reports that fault as it starts)."""
    if (loaded := config.stash.get(_LOADED, None)) is not None:
        return loaded
    if (session := config.stash[SESSION]) is not None:
        loaded = {"": session.biller}
    else:
        args = _biller_args(config)
        loaded = {("" if len(args) == 1 else arg): _load(config.rootpath, arg) for arg in args}
    config.stash[_LOADED] = loaded
    return loaded


def _load(project: Path, arg: str) -> Biller | None:
    try:
        return load_biller(project, arg)
    except ProfileError:
        return None


def _options(config: pytest.Config, biller: str | None = None) -> RunOptions:
    opt = config.getoption
    billers, run_ids = _biller_args(config), opt("--sit-run-id") or []
    biller = biller or billers[0]
    run_id = run_ids[billers.index(biller)] if run_ids else None
    return RunOptions(
        project=config.rootpath, biller=biller, seed=opt("--seed"),
        store=opt("--sit-store") or None, run_id=run_id,
        stub_backend=opt("--stub-backend"), wiremock_url=opt("--wiremock-url"),
        wiremock_port=opt("--wiremock-port"), operator=opt("--operator"), select=config.option.keyword or None,
        partner_mode=opt("--partner-mode"), partner_url=opt("--partner-url"),
        partner_ca=Path(opt("--partner-ca")) if opt("--partner-ca") else None,
        stub_pack=Path(opt("--stub-pack")) if opt("--stub-pack") else None,
    )


def _session(config: pytest.Config) -> SitSession:
    """The run's session, started at the first scenario unless `sit run` started it."""
    session = config.stash[SESSION]
    try:
        if session is None:
            _handle_signals(config)
            session = config.stash[SESSION] = SitSession(_options(config))
            session.start()
        session.ready()
    except Exception as exc:
        error = _start_error(exc)
        if session is not None:  # None when the options could not be read: nothing was started
            session.error = error
            session.stop()
        config.stash[SESSION] = None
        pytest.exit(f"sit: {error}", returncode=error.exit_code)
    return session


def _biller_session(config: pytest.Config, biller: str) -> SitSession:
    """Several billers: this biller's session, started at its first scenario in this process. A biller whose
    session cannot start fails its scenarios with that one line; the other billers' runs go on."""
    if (broken := config.stash[BROKEN].get(biller)) is not None:
        pytest.fail(f"sit: {broken}", pytrace=False)
    sessions = config.stash[SESSIONS]
    session = sessions.get(biller)
    try:
        if session is None:
            _handle_signals(config)
            shared = config.stash.setdefault(WIREMOCK, SharedWireMock(config.rootpath))
            session = sessions[biller] = SitSession(_options(config, biller), wiremock=shared)
            session.start()
        session.ready()
    except Exception as exc:
        error = config.stash[BROKEN][biller] = _start_error(exc)
        if session is not None:
            session.error = error
            sessions.pop(biller).stop()
        pytest.fail(f"sit: {error}", pytrace=False)
    return session


def _handle_signals(config: pytest.Config) -> None:
    """SIGTERM and SIGHUP interrupt the run as Ctrl-C does, from the first session this process starts on."""
    if config.stash.get(SIGNALS, None) is None:
        config.stash[SIGNALS] = signals = ExitStack()
        signals.enter_context(interrupts.handled())


def _start_error(exc: Exception) -> SitError | EventLogError:
    # Without pytest's terminal (as `sit run` runs it) an unexpected error would vanish: it
    # becomes the run's one-line error, and `pytest steps --biller SLUG` shows its traceback.
    return exc if isinstance(exc, SitError | EventLogError) else HarnessError(
        f"the run could not start: {type(exc).__name__}: {exc} (a harness bug; "
        "`pytest steps --biller SLUG` shows where)")


def scenario_tags(scenario: Any) -> tuple[str | None, set[str]]:
    tags = set(scenario.tags) | set(scenario.feature.tags)
    return sit_id_of(tags) or None, tags


def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    """Open the scenario: start the run at the first one, decide N/A, reset the partner side."""
    biller = _item_biller(request.node)
    session = _session(request.config) if biller is None else _biller_session(request.config, biller)
    request.config.stash[CURRENT]["item"] = request.node.nodeid
    _open_scenario(request.config, session, scenario)


@pytest.fixture
def sit(request: pytest.FixtureRequest) -> ScenarioContext:
    """The current workbook scenario's context (for step definitions)."""
    ctx = _ctx(request.config)
    if ctx is None:
        raise RuntimeError("the sit fixture is only available inside a workbook scenario's steps")
    return ctx


def _open_scenario(config: pytest.Config, session: SitSession, scenario: Any) -> ScenarioContext:
    sit_id, tags = scenario_tags(scenario)
    recorder = session.recorder
    recorder.open_scope()
    feature = scenario.feature
    recorder.append("scenario.started", sit_id=sit_id, name=scenario.name, feature=feature.name,
                    feature_file=feature.rel_filename, line=scenario.line_number, tags=sorted(tags))
    current = config.stash[CURRENT]
    current.update(sit_id=sit_id, name=scenario.name, started=time.perf_counter(), finished=False, session=session)
    case = session.case(sit_id)
    if case is None or sit_id is None:  # the run's start refuses such features; this guards a plugin driven otherwise
        error = f"{feature.rel_filename}:{scenario.line_number}: not a case of the run's workbook (no unique SIT ID)"
        _finish(config, "failed", error=error, category="harness")
        pytest.fail(error)
    if (reason := case.na_reason) is not None:
        _finish(config, "na", reason=reason)
        pytest.skip(f"N/A: {reason}")
    platform = session.open_scenario(key_prefix=f"{session.run_id[-4:]}-{sit_id.removeprefix(SIT_PREFIX)}-",
                                     sit_id=sit_id)
    fake = scenario_faker(session.faker, session.seed, sit_id)
    ctx = ScenarioContext(sit_id=sit_id, name=scenario.name, session=session, platform=platform, fake=fake)
    current["ctx"] = ctx
    return ctx


def _finish(config: pytest.Config, status: str, **data: Any) -> None:
    current = config.stash[CURRENT]
    session: SitSession | None = current.get("session")
    if session is None or current.get("finished", True):
        return
    current["finished"], current["status"] = True, status
    if batch := current.pop("step_batch", None):  # a step that broke before reporting itself
        batch.close()
    if ctx := current.pop("ctx", None):
        ctx.observe()
    session.close_scenario()  # a partner callback from now on has no scenario to reach
    took = round((time.perf_counter() - current["started"]) * 1000)
    session.recorder.append("scenario.finished", sit_id=current["sit_id"], status=status, duration_ms=took, **data)
    session.counts[status] = session.counts.get(status, 0) + 1


def _ctx(config: pytest.Config) -> ScenarioContext | None:
    return config.stash[CURRENT].get("ctx")


def _step_event(config: pytest.Config, kind: str, step: Any, **data: Any) -> None:
    ctx = _ctx(config)
    if ctx is not None:
        ctx.session.recorder.append(kind, sit_id=ctx.sit_id, keyword=step.keyword, text=step.name,
                                    line=step.line_number, **data)


def pytest_bdd_before_step(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                           step_func: Any) -> None:
    current = request.config.stash[CURRENT]
    current["step_started"], current["step"] = time.perf_counter(), step
    if ctx := _ctx(request.config):
        # One commit for the step's events, made before the step is reported.
        current["step_batch"] = batch = ExitStack()
        batch.enter_context(ctx.session.recorder.batch())
    _step_event(request.config, "step.started", step)


def _close_step(config: pytest.Config, step: Any, **outcome: Any) -> None:
    """What the partner side saw, then ``step.finished``, then the step's one commit."""
    current = config.stash[CURRENT]
    current.pop("step", None)
    if ctx := _ctx(config):
        ctx.observe()
    took = round((time.perf_counter() - current.get("step_started", 0)) * 1000)
    _step_event(config, "step.finished", step, duration_ms=took, **outcome)
    if batch := current.pop("step_batch", None):
        batch.close()


def pytest_bdd_after_step(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                          step_func: Any, step_func_args: dict[str, Any]) -> None:
    _close_step(request.config, step, status="passed")


def pytest_bdd_step_error(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any,
                          step_func_args: dict[str, Any], exception: Exception) -> None:
    _close_step(request.config, step, status="failed", error=one_line(exception), category=_category(exception))


def pytest_bdd_step_func_lookup_error(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                                      exception: Exception) -> None:
    _step_event(request.config, "step.finished", step, status="undefined", error=one_line(exception),
                category="harness")


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, AssertionError | SitError) else f"{type(exc).__name__}: {text}"


def _category(exc: BaseException) -> str:
    """Which side is likely at fault: the platform (an expectation not met) or the harness."""
    return "platform" if isinstance(exc, AssertionError) else "harness"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    current = item.config.stash[CURRENT]
    not_runnable = call.excinfo.value if call.excinfo and isinstance(call.excinfo.value, NotRunnable) else None
    if not_runnable is not None and not current.get("finished", True):
        # A skip pytest-bdd does not report as a step error: the step that found the need unmet ends here.
        if (step := current.get("step")) is not None:
            _close_step(item.config, step, status="not_run", reason=not_runnable.reason)
        _finish(item.config, "not_run", reason=not_runnable.reason)
    elif not current.get("finished", True) and (call.when == "call" or report.failed):
        if report.passed:
            _finish(item.config, "passed")
        else:
            error = one_line(call.excinfo.value) if call.excinfo else "failed"
            category = _category(call.excinfo.value) if call.excinfo else "harness"
            _finish(item.config, "failed", error=error, category=category)
    if (biller := _item_biller(item)) is not None and (call.when == "call" or report.failed):
        report.user_properties.append((OUTCOME, _outcome(item, biller)))
    return report


def _outcome(item: pytest.Item, biller: str) -> dict[str, Any]:
    """What `sit run`'s controller shows of a finished scenario of one of several billers (``OUTCOME``)."""
    config, current = item.config, item.config.stash[CURRENT]
    session: SitSession | None = config.stash[SESSIONS].get(biller)
    opened = current.get("item") == item.nodeid and current.get("session") is session
    if session is not None and opened:
        return {"biller": biller, "run_id": session.run_id, "sit_id": current["sit_id"], "name": current["name"],
                "status": current.get("status", "failed")}
    tags: set[str] = getattr(getattr(item, "obj", None), _TAGS, set())
    broken = config.stash[BROKEN].get(biller)
    return {"biller": biller, "run_id": None, "sit_id": sit_id_of(tags), "name": item.name, "status": "failed",
            "error": f"sit: {broken}" if broken is not None else "the scenario did not start",
            "exit_code": broken.exit_code if broken is not None else EXIT_HARNESS}


def pytest_collection_finish(session: pytest.Session) -> None:
    scenarios = (item for item in session.items if getattr(getattr(item, "obj", None), _TAGS, None) is not None)
    session.config.stash[LAST] = {_item_biller(item): item.nodeid for item in scenarios}
    session.config.stash[ENDED] = set()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    """Several billers: a biller's run ends after its last scenario here (its WireMock and sFTP server stop),
    so that its recorded wall time is its own, not that of the billers the same process runs after it."""
    result = yield  # an interruption skips this: the session's end closes the run as interrupted
    config, biller = item.config, _item_biller(item)
    if item.nodeid == config.stash.get(LAST, {}).get(biller):
        config.stash[ENDED].add(biller)
        if biller is not None and (sit := config.stash[SESSIONS].pop(biller, None)):
            _close_run(item.session, sit, interrupted=None)
    return result


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    runs = [(biller, sit) for biller, sit in ((None, config.stash.get(SESSION, None)),
                                               *config.stash.get(SESSIONS, {}).items()) if sit]
    shared = config.stash.get(WIREMOCK, None)
    if not runs and shared is None:
        return
    stopped = exitstatus == pytest.ExitCode.INTERRUPTED
    ended = config.stash.get(ENDED, set())
    config.stash[SESSION] = None
    config.stash[SESSIONS] = {}
    try:
        with ExitStack() as closing:  # every run is closed and stopped, even when closing one of them fails
            if shared is not None:  # the worker's WireMock goes down last, after every run on it
                closing.callback(shared.stop)
            for biller, sit in runs:
                closing.callback(_close_run, session, sit, _cut_short(stopped, biller in ended))
            _finish(config, "interrupted")  # the scenario in flight, first
    finally:
        if signals := config.stash.get(SIGNALS, None):
            signals.close()


def _cut_short(stopped: bool, ended: bool) -> str | None:
    """Why a run the session's end closes did not finish (None: it did): a signal, or the session ended first."""
    if not stopped and ended:
        return None
    return interrupts.reason() or ("KeyboardInterrupt" if stopped else "stopped before its last scenario")


def _close_run(session: pytest.Session, sit: SitSession, interrupted: str | None) -> None:
    """Record the run's end (a run that never opened, for nothing selected or a set-up fault, records
    nothing), stop what it started, and write its Allure results when asked to."""
    try:
        if sit.is_ready:
            sit.finish(interrupted=interrupted)
    finally:
        sit.stop()
    if sit.is_ready and (alluredir := session.config.getoption("alluredir")):
        _write_allure(session, sit, Path(alluredir))


def _write_allure(session: pytest.Session, sit: SitSession, out: Path) -> None:
    """``--alluredir``: the run's Allure results, projected from its log as `sit report` projects them;
    a fault is one line and a failed session, not pytest's internal-error traceback."""
    from harness.reports import open_run, write_allure_results

    try:
        write_allure_results(open_run(sit.run_id, sit.store), out)
    except (SitError, EventLogError) as exc:
        print(f"sit: --alluredir {out}: {exc}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
