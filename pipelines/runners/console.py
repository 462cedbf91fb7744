"""What ``nis-pipeline`` prints, and what goes to the run's log file instead.

Without ``--verbose`` the terminal shows the suite's own lines only: the run's start, one line
per component start/finish, the progress lines of long steps (search log steps, trainer
epochs, with their ETA), errors and the summary. Everything else goes to the run's log file
(``<output_dir>/logs/<pipeline>-<UTC time>.log``):

* what the process writes to file descriptor 2 while it imports TensorFlow, TFX and Beam
  (TensorFlow's C++ start-up lines such as ``Unable to register cuDNN factory``, Python
  warnings of third-party packages), held by ``captured_stderr`` until the log file is known;
* during the run, file descriptor 2 itself (C++ logs, Beam worker processes), every log record
  (absl/TFX INFO lines, ``py.warnings``) and Keras' own per-epoch line (Keras logs it through
  absl instead of printing it).

With ``--verbose`` the start-up text is printed to stderr and nothing is redirected.
This module imports only the standard library, so the entry point can use it before
TensorFlow is imported.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import time
from typing import Iterator, List, Optional


class Captured:
    """The text written to file descriptor 2 inside ``captured_stderr`` (set on exit)."""

    def __init__(self):
        self.text = ""


@contextlib.contextmanager
def captured_stderr() -> Iterator[Captured]:
    """Redirects file descriptor 2 (so also ``sys.stderr`` and C++ output) to a temporary file.

    On exit the descriptor is restored and the text kept in the yielded ``Captured``; when the
    block raises, the text is written to the restored stderr first, so no error is lost.
    """
    captured = Captured()
    _flush_stderr()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        failed = True
        try:
            yield captured
            failed = False
        finally:
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.text = tmp.read().decode("utf-8", errors="replace")
            if failed and captured.text:
                sys.stderr.write(captured.text)
                sys.stderr.flush()


def _flush_stderr() -> None:
    for stream in {id(s): s for s in (sys.stderr, sys.__stderr__) if s is not None}.values():
        stream.flush()


def log_path(output_dir: str, pipeline_name: str, now: Optional[float] = None) -> str:
    """``<output_dir>/logs/<pipeline_name>-<UTC time>.log``, the log file of one run."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return os.path.join(output_dir, "logs", f"{pipeline_name}-{stamp}.log")


def _is_fd2(stream) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


def _writes_to_fd2(handler: logging.Handler) -> bool:
    plain = type(handler) is logging.StreamHandler  # pylint: disable=unidiomatic-typecheck
    return plain and _is_fd2(handler.stream)


class QuietRun:
    """Context of a run without ``--verbose``: the terminal gets the suite's lines, the log file
    the rest (see the module docstring).

    Args:
      path: the run's log file (created, with its folder; appended to).
      startup_text: what ``captured_stderr`` held, written to the log first.
      console_filter: the filter of the terminal's log handler; it prints the progress lines
        itself and passes on the records the terminal shows (errors).
    """

    def __init__(self, path: str, startup_text: str, console_filter: logging.Filter):
        self.path = path
        self.startup_text = startup_text
        self.console_filter = console_filter
        self._undo: List = []

    def __enter__(self) -> "QuietRun":
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        # Closed by __exit__'s undo.
        log = open(self.path, "a", buffering=1, encoding="utf-8")  # pylint: disable=R1732
        log.write(self.startup_text)
        sys.stdout.flush()
        _flush_stderr()
        # The terminal's stderr, for the suite's own error lines; fd 2 becomes the log file.
        # (A sys.stderr that is not fd 2, as in a test capturing it, stays the terminal's.)
        own_console = _is_fd2(sys.stderr)
        console = (os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
                   if own_console else sys.stderr)
        saved_fd2 = os.dup(2)
        os.dup2(log.fileno(), 2)
        saved_stderr, sys.stderr = sys.stderr, console

        root = logging.getLogger()
        to_fd2 = [h for h in root.handlers if _writes_to_fd2(h)]  # would duplicate the log's lines
        for handler in to_fd2:
            root.removeHandler(handler)
        to_log = logging.StreamHandler(log)
        to_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        to_console = logging.StreamHandler(console)
        to_console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        to_console.addFilter(self.console_filter)
        root.addHandler(to_log)
        root.addHandler(to_console)
        logging.captureWarnings(True)
        keras_interactive = _keras_interactive_logging(False)

        def undo():
            _keras_interactive_logging(keras_interactive)
            logging.captureWarnings(False)
            for handler in (to_log, to_console):
                root.removeHandler(handler)
            for handler in to_fd2:
                root.addHandler(handler)
            _flush_stderr()
            sys.stderr = saved_stderr
            os.dup2(saved_fd2, 2)
            os.close(saved_fd2)
            if own_console:
                console.close()
            log.close()
        self._undo.append(undo)
        return self

    def __exit__(self, *exc) -> None:
        while self._undo:
            self._undo.pop()()


def _keras_interactive_logging(enabled: bool) -> bool:
    """Sets whether Keras prints its progress lines (else it logs them); returns the old setting.

    Keras is ``tf_keras``, the ``tf.keras`` of ``TF_USE_LEGACY_KERAS=1`` that the trainers use.
    """
    try:
        import tf_keras  # pylint: disable=import-outside-toplevel
    except ImportError:
        return True
    utils = tf_keras.utils
    before = bool(utils.is_interactive_logging_enabled())
    (utils.enable_interactive_logging if enabled else utils.disable_interactive_logging)()
    return before
