"""kerashp.runs pieces used across processes: following another process's events log."""

from __future__ import annotations

from kerashp.runs import EventLogTail


def test_event_log_tail_reads_whole_new_records_only(tmp_path):
    log = tmp_path / "events.jsonl"
    tail = EventLogTail(log)
    assert tail.read() == []  # not written yet
    log.write_bytes(b'{"event": "A"}\n[1, 2]\n{"event": "half wri')
    assert tail.read() == [{"event": "A"}]  # a JSON list is not an event; the half line waits
    with open(log, "ab") as handle:
        handle.write(b'tten"}\nnot json\n{"event": "C"}\n')
    assert tail.read() == [{"event": "half written"}, {"event": "C"}]
    assert tail.read() == []
