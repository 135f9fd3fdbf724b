"""kerashp.status: statuses keep the strings files hold, and exit codes live in one place."""

from __future__ import annotations

import json

from kerashp.status import RunStatus, StudyStatus, TrialStatus, VariantStatus, exit_code


def test_statuses_are_the_strings_files_hold():
    assert json.dumps({"status": RunStatus.COMPLETED}) == '{"status": "completed"}'
    assert RunStatus("diverged") is RunStatus.DIVERGED and f"{TrialStatus.PRUNED}" == "pruned"
    assert VariantStatus.PENDING == "pending" and StudyStatus.FAILED == "failed"


def test_exit_codes_are_zero_for_done_130_for_an_interrupt_and_1_otherwise():
    assert [RunStatus(status).exit_code for status in ("completed", "stopped", "interrupted", "diverged", "failed")] == [
        0, 0, 130, 1, 1,
    ]  # fmt: skip
    assert StudyStatus.INTERRUPTED.exit_code == 130 and exit_code("anything else") == 1


def test_a_diverged_run_is_a_result_but_only_a_completed_one_can_win():
    assert RunStatus.DIVERGED.is_result and not RunStatus.DIVERGED.can_win
    assert RunStatus.COMPLETED.can_win and not RunStatus.KILLED.is_result
    assert VariantStatus.DIVERGED.is_result and not VariantStatus.PENDING.is_result
