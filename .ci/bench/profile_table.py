"""Reads `perf record --call-graph dwarf` files of `herald run` and prints, for each part of the
chain, its inclusive share of herald's samples and CPU µs per message (perf samples the CPU clock
at 999 Hz, so a sample is about 1 ms of CPU). Parts can nest (render runs inside the walk over
deliveries), so shares do not add up to 100%."""
import re
import subprocess
import sys

kind, messages, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
parts = [
    ("read (CSV reader, rows)", r"CSVBatchReaderC4next"),
    ("load (template, id, fingerprint)", r"PipelineStageV7prepare"),
    ("validate (addresses, parameters)", r"PipelineStageV8validate"),
    ("render (variants, escaping)", r"PipelineStageV6render4with"),
    ("rate-limit (caps, quiet hours)", r"RateLimiterC5apply"),
    ("MIME (compose the message)", r"MailComposerV7compose"),
    ("transport (libcurl SMTP session)", r"SMTPConnectionC7perform"),
    ("journal (sent lines)", r"JournalSegmentC4sent|JournalSegmentC8inFlight"),
    ("record: decisions, masking", r"RecordDecisionsV7outcome|RecordDecisionsV9maskError"),
    ("record: log line + trace index", r"JSONLinesLogC6append"),
    ("record: ledger (SQLite)", r"SQLiteLedgerC6record_9alongside"),
    ("record: ledger (PostgreSQL)", r"PostgresLedgerC6record_9alongside"),
    ("queue: enqueue (read, encode, insert)", r"WorkspaceRunV7enqueue_2to2in4into"),
    ("queue: claim (decode)", r"PostgresWorkQueueC5claim"),
    ("Codable JSON (encode, decode)", r"JSONEncoderC6encode|JSONDecoderC6decode|JSONEncoderC6encode|__JSONDecoder|JSONEncoderImpl|JSONDecoderImpl"),
    ("PostgresNIO (bind, encode, rows)", r"PostgresNIO"),
    ("metrics refresh (end of run)", r"MetricsFileO6update"),
]
compiled = [(label, re.compile(pattern)) for label, pattern in parts]
total = 0
hits = {label: 0 for label, _ in parts}
for path in files:
    out = subprocess.run(["perf", "script", "-i", path, "-F", "comm,ip,sym"], capture_output=True, text=True).stdout
    for block in out.split("\n\n"):
        lines = [line.strip() for line in block.strip().split("\n") if line.strip()]
        if not lines:
            continue
        total += 1
        # The first line names the thread; the rest are "address symbol" frames, leaf first.
        stack = "\n".join(line.split(" ", 1)[-1] for line in lines[1:])
        for label, pattern in compiled:
            if pattern.search(stack):
                hits[label] += 1
runs = len(files)
per_message_us = lambda samples: samples / runs * 1000 / messages * 1000 / 999
print(f"{kind}: {messages} messages, {runs} runs, {total} samples; {per_message_us(total):.1f} µs of CPU per message in all")
print(f"  {'part':36} {'µs/msg':>8} {'share':>7}")
for label, _ in parts:
    if hits[label]:
        print(f"  {label:36} {per_message_us(hits[label]):8.2f} {hits[label] / total:7.1%}")
