"""What every form shares: rendering, the output area, guarded and muted handlers, the worker.

A form holds its root widget in ``box`` and renders when it is the last expression of a cell
(or through ``display(form)``); it never displays itself while being built. Text goes into
``output`` with ``append_stdout``/``append_stderr``/``append_display_data``, which work in a
kernel and in plain Python alike. Every handler runs through :meth:`FormBase.guarded`, so an
exception lands in ``output`` instead of being lost in a thread or a comm callback.

A change the user makes runs its handler's update chain once: handlers registered with
:meth:`FormBase.on_change` run :meth:`FormBase.muted`, and no observer of the form fires while
the form sets its own controls (msticpy's ``_disable_handlers`` idea, per thread, since
observers fire on the thread that sets a value).

Example::

    class Hello(FormBase):
        def __init__(self):
            super().__init__()
            self.button = widgets.Button(description="Hi")
            self.button.on_click(self.guarded(lambda _: self.say("hello")))
            self.box = widgets.VBox([self.button, self.output])
"""

from __future__ import annotations

import contextlib
import html
import json
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets

from ..catalog import state_text
from ..errors import CloudMCError

SECRET_WORDS = ("password", "secret", "apikey", "api_key", "token")
HIDDEN = "<hidden: read it from .results>"


class FormBase:
    """Shared plumbing: ``box`` (root widget), ``output`` (messages), ``worker`` (last thread)."""

    box: widgets.Box

    def __init__(self) -> None:
        self.output = widgets.Output(layout=widgets.Layout(max_height="24em", overflow="auto"))
        self.worker: threading.Thread | None = None
        self._output_lock = threading.Lock()
        self._updating = threading.local()

    # -- rendering ---------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = dict(self.box._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    # -- the worker ----------------------------------------------------------------------------

    def start_worker(self, target: Callable[[], None], name: str) -> threading.Thread:
        """Run ``target`` (guarded) on a daemon thread kept in ``self.worker``."""
        thread = threading.Thread(target=self.guarded(target), name=name, daemon=True)
        self.worker = thread
        thread.start()
        return thread

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the current worker; True when no worker is left running."""
        worker = self.worker
        if worker is None:
            return True
        worker.join(timeout)
        return not worker.is_alive()

    # -- handlers and output ---------------------------------------------------------------------

    @contextlib.contextmanager
    def muted(self) -> Iterator[None]:
        """While inside, no :meth:`on_change` handler of this form runs on this thread."""
        depth = getattr(self._updating, "depth", 0)
        self._updating.depth = depth + 1
        try:
            yield
        finally:
            self._updating.depth = depth

    def on_change(self, control: widgets.Widget, handler: Callable[[Any], None]) -> None:
        """Run ``handler`` (guarded and muted) when the user changes ``control``'s value."""
        def run(change: Any) -> None:
            if getattr(self._updating, "depth", 0):
                return  # the form is setting its own controls: the running chain covers it
            with self.muted():
                handler(change)

        control.observe(self.guarded(run), names="value")

    def guarded(self, handler: Callable[..., Any]) -> Callable[..., None]:
        """``handler`` wrapped so that any exception is written to ``output``."""
        def run(*args: Any, **kwargs: Any) -> None:
            try:
                handler(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - a widget callback must not lose errors
                self.show_error(exc)

        return run

    def say(self, text: str) -> None:
        """Append one line of text to ``output``."""
        with self._output_lock:
            self.output.append_stdout(text.rstrip("\n") + "\n")

    def show(self, obj: Any) -> None:
        """Append a rich display (a DataFrame, HTML, ...) to ``output``."""
        with self._output_lock:
            self.output.append_display_data(obj)

    def show_error(self, exc: BaseException, prefix: str = "") -> None:
        """Append an error: CloudMC errors as message, code and context; others with a traceback."""
        if isinstance(exc, CloudMCError):
            text = prefix + describe_error(exc)
        else:
            text = prefix + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with self._output_lock:
            self.output.append_stderr(text.rstrip("\n") + "\n")

    def clear_output(self) -> None:
        """Forget what ``output`` shows (works with and without a kernel)."""
        with self._output_lock:
            self.output.outputs = ()


def set_options(control: widgets.Widget, options: list[tuple[str, Any]]) -> None:
    """Give a Dropdown/SelectMultiple new options, keeping what is still valid of its value.

    A Dropdown whose value is gone falls back to its first option (None when empty).
    """
    values = [value for _, value in options]
    current = control.value
    control.options = options
    if isinstance(control, widgets.SelectMultiple):
        control.value = tuple(v for v in current if v in values)
    else:
        control.value = current if current in values else (values[0] if values else None)


def describe_error(exc: CloudMCError) -> str:
    """``Type: message (code N)`` plus the context as JSON on a second line, when there is one."""
    code = f" (code {exc.code})" if exc.code is not None else ""
    text = f"{type(exc).__name__}: {exc.message}{code}"
    if exc.hint:
        text += f"\n  what to do: {exc.hint}"
    if exc.context:
        text += f"\n  context: {to_json(exc.context)}"
    return text


def to_json(value: Any) -> str:
    """Compact JSON of a result or context, secret-looking fields hidden."""
    return json.dumps(hide_secrets(value), default=str, sort_keys=True)


def result_line(label: str, task: Any) -> str:
    """One readable line for a finished task: ``web-01: SUCCESS · now Stopped · 2.4 s``.

    The entity's name is added when it is not the label; the full result is shown elsewhere
    (:func:`full_results_html`).

    >>> class T: status, result = "SUCCESS", {"name": "web", "state": "Stopped"}; elapsed = lambda s: 2.44
    >>> result_line("web", T())
    'web: SUCCESS · now Stopped · 2.4 s'
    """
    result = task.result if isinstance(task.result, dict) else {}
    name, state = result.get("name"), state_text(result)
    parts = [f"{label}: {task.status}"]
    if isinstance(name, str) and name and name != label:
        parts.append(name)
    if state:
        parts.append(f"now {state}")
    return " · ".join([*parts, f"{task.elapsed():.1f} s"])


def full_results_html(results: list[tuple[str, Any]]) -> str:
    """Each task's whole result as indented JSON (secrets hidden), in boxes that scroll instead of
    breaking words."""
    style = "white-space:pre;overflow:auto;max-height:16em;margin:.2em 0 .8em;font-size:.85em"
    return "".join(f"<b>{html.escape(label)}</b><pre style='{style}'>"
                   f"{html.escape(json.dumps(hide_secrets(result), indent=1, default=str))}</pre>"
                   for label, result in results)


def hide_secrets(value: Any) -> Any:
    """A copy of ``value`` with text fields named like passwords, tokens or keys replaced."""
    if isinstance(value, dict):
        return {k: HIDDEN if _secret(k) and isinstance(v, str) else hide_secrets(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [hide_secrets(v) for v in value]
    return value


def _secret(key: Any) -> bool:
    name = str(key).lower().replace("-", "_")
    return any(word in name for word in SECRET_WORDS)
