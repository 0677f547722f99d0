#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the email channel's live tests (EmailLiveTests.swift).

    smtp_test_server.py --dir DIR [--cert C --key K [--implicit-tls]] [--user U --password P]
                        [--login-only] [--fail-once-451]

With --cert/--key it offers STARTTLS and requires it before anything else (and before AUTH), or
with --implicit-tls speaks TLS from the first byte. --user/--password accept exactly that login
(AUTH PLAIN and LOGIN; --login-only offers LOGIN alone). --fail-once-451 answers the first
message with 451. A recipient whose address starts with "unknown" is refused with 550.

Each accepted message is written to DIR/message-N.eml (the bytes received, dot-stuffing undone)
with DIR/message-N.json beside it ({"mail_from", "rcpt_tos", "tls", "login"}), the JSON last and
by rename, so a reader never sees half of one. Every AUTH attempt appends a line to DIR/auth.log.
Prints "listening on 127.0.0.1:PORT" once ready; stops when stdin closes (its parent is gone).
"""
import argparse
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class EphemeralPortController(Controller):
    """Binds port 0 and learns the port the kernel chose before it pokes the server awake."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class Recorder:
    def __init__(self, directory, fail_once):
        self.directory = directory
        self.fail_once = fail_once
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("unknown"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.fail_once:
            self.fail_once = False
            return "451 4.3.0 Temporary failure, try again later"
        self.count += 1
        base = os.path.join(self.directory, "message-%d" % self.count)
        with open(base + ".eml", "wb") as out:
            out.write(envelope.original_content or envelope.content)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                "tls": server.transport.get_extra_info("ssl_object") is not None, "login": login, "mail_options": envelope.mail_options}
        with open(base + ".json.tmp", "w") as out:
            json.dump(meta, out)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 2.0.0 Ok: queued as %d" % self.count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--login-only", action="store_true")
    parser.add_argument("--fail-once-451", action="store_true")
    args = parser.parse_args()

    def authenticator(server, session, envelope, mechanism, auth_data):
        with open(os.path.join(args.dir, "auth.log"), "a") as log:
            log.write("%s\n" % mechanism)
        ok = (isinstance(auth_data, LoginPassword) and args.user is not None
              and auth_data.login == args.user.encode() and auth_data.password == args.password.encode())
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    tls = None
    if args.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)
    # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; with --implicit-tls all of it is TLS.
    options = {"authenticator": authenticator if args.user else None, "auth_require_tls": not args.implicit_tls}
    if args.login_only:
        options["auth_exclude_mechanism"] = ["PLAIN"]
    if tls is not None and not args.implicit_tls:
        options.update(tls_context=tls, require_starttls=True)
    controller = EphemeralPortController(Recorder(args.dir, args.fail_once_451), hostname="127.0.0.1", port=0,
                                         ssl_context=tls if args.implicit_tls else None, **options)
    controller.start()
    print("listening on 127.0.0.1:%d" % controller.port, flush=True)
    try:
        sys.stdin.read()  # until the test (or its process) goes away
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
