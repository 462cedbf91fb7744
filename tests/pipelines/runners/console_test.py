"""The console split of nis-pipeline: the terminal gets the suite's lines, the log file the rest."""
import logging
import os
import sys
import warnings

from pipelines.runners import console


def test_captured_stderr_holds_c_level_and_python_writes(capfd):
    with console.captured_stderr() as captured:
        os.write(2, b"E external/local_xla/... Unable to register cuDNN factory\n")
        # What Python's warnings print at import: sys.stderr of a process is fd 2.
        print("FutureWarning: a third-party warning", file=sys.__stderr__, flush=True)
    assert capfd.readouterr().err == ""
    assert "Unable to register cuDNN factory" in captured.text
    assert "FutureWarning: a third-party warning" in captured.text


def test_quiet_run_sends_the_rest_to_the_log_file(tmp_path, capfd):
    import tf_keras  # pylint: disable=import-outside-toplevel

    class ErrorsOnly(logging.Filter):
        def filter(self, record):
            return record.levelno >= logging.ERROR

    path = console.log_path(str(tmp_path), "p", now=0)
    assert path == str(tmp_path / "logs" / "p-19700101T000000Z.log")
    log = logging.getLogger("console_test")
    log.setLevel(logging.INFO)
    with console.QuietRun(path, "start-up line\n", ErrorsOnly()):
        assert not tf_keras.utils.is_interactive_logging_enabled()
        os.write(2, b"C++ line\n")
        log.info("an INFO record")
        log.error("an ERROR record")
        warnings.warn("a third-party warning", UserWarning)
        print("the suite's own error line", file=sys.stderr)
    assert tf_keras.utils.is_interactive_logging_enabled()
    out, err = capfd.readouterr()
    assert "an ERROR record" in err and "the suite's own error line" in err
    assert "INFO" not in err and "C++ line" not in err and "UserWarning" not in err + out
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for line in ("start-up line", "C++ line", "an INFO record", "an ERROR record",
                 "UserWarning: a third-party warning"):
        assert line in text, line
    os.write(2, b"after the run\n")  # fd 2 is the terminal's again
    assert "after the run" in capfd.readouterr().err
