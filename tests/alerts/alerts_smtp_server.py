"""A minimal SMTP server on 127.0.0.1 for the alert tests: it accepts every message and keeps it in memory."""
from __future__ import annotations

import socketserver
import threading
from email import message_from_bytes, policy


class FakeSmtpServer:
    def __init__(self) -> None:
        self.messages: list = []
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write((line + "\r\n").encode())

            def handle(self) -> None:
                self.reply("220 fake ESMTP")
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    command = line.decode().strip().upper()
                    if command.startswith(("EHLO", "HELO")):
                        self.reply("250 fake")
                    elif command.startswith(("MAIL", "RCPT", "RSET", "NOOP")):
                        self.reply("250 OK")
                    elif command == "DATA":
                        self.reply("354 go ahead")
                        data = b""
                        while True:
                            chunk = self.rfile.readline()
                            if chunk in (b".\r\n", b".\n", b""):
                                break
                            data += chunk[1:] if chunk.startswith(b"..") else chunk
                        server.messages.append(message_from_bytes(data, policy=policy.default))
                        self.reply("250 queued")
                    elif command == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeSmtpServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
