"""An SMTP server on 127.0.0.1 (aiosmtpd, in this process) that counts the messages each
recipient receives; shared by .ci/crash_test.py and .ci/workers_test.py."""
import collections, socket, threading
from aiosmtpd.controller import Controller


class CountingSMTPServer:
    def __init__(self):
        self.received = collections.Counter()
        self.lock = threading.Lock()
        counter = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with counter.lock:
                    for rcpt in envelope.rcpt_tos:
                        counter.received[rcpt] += 1
                return "250 2.0.0 Ok"

        probe = socket.socket(); probe.bind(("127.0.0.1", 0)); self.port = probe.getsockname()[1]; probe.close()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        self.controller.stop()
