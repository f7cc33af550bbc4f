#!/usr/bin/python3
"""A local OAuth2 authorization server for the tests: a token endpoint that
answers like Microsoft's, and an introspection endpoint for Dovecot.

    from tokenserver import TokenServer, make_client_cert
    cert, key = make_client_cert(tmpdir)
    with TokenServer(client_secret="s3cret", client_cert=cert, lifetime=5,
                     refresh_tokens=["rt-1"]) as ts:
        ts.token_url        # https://localhost:PORT/token  (POST, RFC 6749)
        ts.cafile           # the CA that signed its certificate
        ts.introspect_url   # http://127.0.0.1:PORT/introspect (RFC 7662)
        dc = Dovecot(oauth2_introspect_url=ts.introspect_url)
        ...
        ts.mode = "down"    # see MODES
        ts.requests, ts.introspections, ts.issued_tokens(), ts.revoke(tok)

Token endpoint (HTTPS; SAN DNS:localhost and IP:127.0.0.1), form-encoded:
  * grant_type=client_credentials with client_id + client_secret (in the
    form or as HTTP Basic, RFC 6749 2.3.1), or with
    client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
    and client_assertion=<JWT> (RFC 7523, as Microsoft's certificate
    credentials: RS256, header x5t = base64url(SHA-1(certificate DER)),
    aud = token_url, iss = sub = client_id, exp, nbf/iat, jti);
  * grant_type=refresh_token with refresh_token and client_id (rotated on
    every use unless rotate=False).
  Success: 200 {"token_type":"Bearer","expires_in":LIFETIME,"access_token":...}
  (+ "refresh_token" for the refresh grant).  Errors in Microsoft's shape:
  {"error", "error_description": "AADSTSnnn: ...\\r\\nTrace ID: ...", "error_codes",
  ...}; 401 for invalid_client, 400 otherwise.

Introspection endpoint (plain HTTP, for Dovecot's oauth2 passdb with
introspection_mode = post, which sends "token=T&client_id=&client_secret="):
always HTTP 200, {"active": true, "username": USER, ...} for a token issued
less than its lifetime ago and not revoked, else {"active": false}.  (Any
other answer makes Dovecot report a temporary failure instead of
AUTHENTICATIONFAILED; Dovecot itself ignores "exp".)

Nothing is printed: what happened is in .requests and .introspections,
secrets included, so that tests can look for them in other logs.

Self-check against a real Dovecot (as root):
    /usr/bin/python3 tests/lib/tokenserver.py selftest
"""

import base64
import collections
import dataclasses
import datetime
import hashlib
import http.server
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot  # noqa: E402  (make_ca, make_server_cert, OPENSSL_BIN)

OPENSSL_BIN = dovecot.OPENSSL_BIN
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Fault modes of the token endpoint (the introspection endpoint never fails):
#   ok            normal service
#   down          the listening socket is closed: connect() is refused; back
#                 to any other mode reopens it on the same port
#   malformed     HTTP 200, application/json, a truncated JSON object
#   nonjson       HTTP 200, an HTML page (a captive portal, a proxy)
#   error500      HTTP 500 with an HTML page
#   wrong_secret  every client_secret is rejected (AADSTS7000215) and every
#                 client assertion fails signature validation (AADSTS700027)
MODES = ("ok", "down", "malformed", "nonjson", "error500", "wrong_secret")
# How far a client assertion's nbf/iat may lie in the future.
CLOCK_SKEW = 60


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    text = text.encode() if isinstance(text, str) else text
    if not text or not all(c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                           b"0123456789-_" for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def _openssl(args, data=None):
    r = subprocess.run([OPENSSL_BIN] + args, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return r.returncode, r.stdout, r.stderr


# ------------------------------------------------------------ client certs
def make_client_cert(directory, name="client", cn="inboxfs test client"):
    """An RSA 2048 key (PKCS#8 PEM, mode 0600) and a self-signed certificate
    for it, as uploaded to an Entra app registration.  Returns
    (cert_pem_path, key_pem_path); `name` keeps several in one directory."""
    key = os.path.join(directory, name + ".key")
    crt = os.path.join(directory, name + ".pem")
    # create the key file 0600 before openssl writes into it
    os.close(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    rc, _, err = _openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes",
                           "-keyout", key, "-out", crt, "-days", "365",
                           "-subj", "/CN=" + cn], data=b"")
    if rc != 0:
        raise RuntimeError("openssl req failed: " + err.decode(errors="replace"))
    os.chmod(key, 0o600)
    return crt, key


def cert_thumbprint(cert_path):
    """The JWT header's x5t: base64url(SHA-1 of the certificate's DER)."""
    with open(cert_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return b64url(hashlib.sha1(der).digest())


def make_client_assertion(token_url, client_id, cert_path, key_path, lifetime=600,
                          claims=None, header=None, now=None):
    """A signed RS256 client assertion (openssl CLI).  `claims`/`header`
    override or, with value None, remove fields, so tests can build broken
    assertions (the x5t stays that of cert_path whatever key signs)."""
    now = int(time.time()) if now is None else int(now)
    hdr = {"alg": "RS256", "typ": "JWT", "x5t": cert_thumbprint(cert_path)}
    body = {"aud": token_url, "iss": client_id, "sub": client_id,
            "jti": str(uuid.uuid4()), "nbf": now, "iat": now, "exp": now + lifetime}
    for dest, changes in ((hdr, header), (body, claims)):
        for k, v in (changes or {}).items():
            if v is None:
                dest.pop(k, None)
            else:
                dest[k] = v
    signing_input = (b64url(json.dumps(hdr, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(body, separators=(",", ":")).encode()))
    rc, sig, err = _openssl(["dgst", "-sha256", "-sign", key_path], signing_input.encode())
    if rc != 0 or not sig:
        raise RuntimeError("openssl dgst -sign failed: " + err.decode(errors="replace"))
    return signing_input + "." + b64url(sig)


# ------------------------------------------------------------ records
@dataclasses.dataclass
class TokenRequest:
    """One request to the token listener.  form/headers/token keep the secret
    values on purpose (tests search other logs for them), so they are
    left out of repr()."""
    t: float                      # time.monotonic() at arrival
    wall: float                   # time.time() at arrival
    method: str
    path: str
    mode: str                     # fault mode it was served in
    grant_type: str = None
    form: dict = dataclasses.field(default_factory=dict, repr=False)
    headers: dict = dataclasses.field(default_factory=dict, repr=False)
    client_auth: str = None       # "secret", "basic", "assertion" or None
    scope: str = None
    status: int = None
    error: str = None             # OAuth2 error code, or a fault mode name
    error_description: str = None
    token: str = dataclasses.field(default=None, repr=False)
    refresh_token: str = dataclasses.field(default=None, repr=False)
    expires_in: int = None


Introspection = collections.namedtuple("Introspection", "t token active reason")
# reason: "ok", "unknown", "expired", "revoked", "missing" (no token= field)


@dataclasses.dataclass
class _Token:
    token: str
    user: str
    client_id: str
    scope: str
    issued: float                 # monotonic
    expires: float                # monotonic
    issued_wall: float
    lifetime: int
    revoked: bool = False


class OAuthError(Exception):
    """An error answer of the token endpoint, Microsoft style."""

    def __init__(self, status, error, code, text):
        super().__init__(text)
        self.status, self.error, self.code, self.text = status, error, code, text

    def body(self):
        trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = datetime.datetime.now(datetime.timezone.utc)
        stamp_text = stamp.strftime("%Y-%m-%d %H:%M:%SZ")
        return {
            "error": self.error,
            "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\n"
                                 "Timestamp: %s" % (self.code, self.text, trace, corr, stamp_text),
            "error_codes": [self.code],
            "timestamp": stamp_text,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": "https://login.microsoftonline.com/error?code=%d" % self.code,
        }


def _bad_assertion(why, code=50027):
    # invalid_grant, as the inboxfs tests expect.  RFC 7523 3.2 and
    # Microsoft (AADSTS700027) answer invalid_client to a bad client
    # assertion: a client must not depend on which of the two it gets.
    return OAuthError(400, "invalid_grant", code, "Client assertion rejected: " + why)


# ------------------------------------------------------------ HTTP plumbing
class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sock, owner, handler, ssl_context=None):
        super().__init__(sock.getsockname(), handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_activate()       # listen() on the socket we were given
        self.owner = owner
        self.ssl_context = ssl_context

    def finish_request(self, request, client_address):
        # Runs in the per-connection thread: the TLS handshake happens here,
        # so a client that connects and never speaks blocks only itself.
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        try:
            request.settimeout(10)
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as e:  # e.g. the client rejected our cert
            with self.owner.lock:
                self.owner.tls_errors.append(str(e))
            request.close()
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()   # wrap_socket detached `request`: this is the real one

    def handle_error(self, request, client_address):
        pass  # clients that go away mid-answer are expected in fault tests


class _Listener:
    """A ThreadingHTTPServer on a fixed port that can be taken down (connect()
    refused) and brought back on the same port.  While down, the port is
    held by a bound socket that does not listen: the kernel answers SYNs to
    it with RST, and nobody else can take the port."""

    def __init__(self, owner, handler, ssl_context=None):
        self.owner, self.handler, self.ssl_context = owner, handler, ssl_context
        self.sock = self._bound_socket(0)
        self.port = self.sock.getsockname()[1]
        self.server = None
        self.thread = None

    @staticmethod
    def _bound_socket(port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return s

    def up(self):
        if self.server is not None:
            return
        self.server = _Server(self.sock, self.owner, self.handler, self.ssl_context)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True,
                                       name="tokenserver-%d" % self.port)
        self.thread.start()

    def down(self, keep_port=True):
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()   # closes the listening socket: queued
        self.thread.join(5)          # connections are reset
        self.server = self.thread = None
        self.sock = self._bound_socket(self.port) if keep_port else None

    def close(self):
        self.down(keep_port=False)
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10                    # a silent client does not pin a thread
    server_version = "inboxfs-tokenserver"

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        pass  # everything is recorded in the owner's lists instead

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body, content_type="application/json; charset=utf-8"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Pragma", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True


class _TokenHandler(_Handler):
    def do_POST(self):
        self.server.owner._handle_token(self)

    def do_GET(self):
        self.server.owner._handle_token(self)


class _IntrospectHandler(_Handler):
    def do_POST(self):
        self.server.owner._handle_introspect(self)

    def do_GET(self):
        self._send(405, {"error": "method_not_allowed"})


# ------------------------------------------------------------ the server
class TokenServer:
    """See the module doc.

    Constructor: client_id, client_secret (random when None), client_cert
    (PEM path, see make_client_cert; register_client_cert() later also
    works), refresh_tokens (iterable of valid refresh tokens), rotate,
    lifetime (seconds; also an attribute, for tokens issued later), user
    (the "username" introspection reports; an attribute too), scope (None:
    any scope; else the token request must include this one), token_bytes
    (random bytes per access token: Microsoft's are ~2 KB JWTs).

    Attributes: token_url, cafile, introspect_url, port, introspect_port,
    dir, mode (thread-safe, see MODES), requests (TokenRequest list),
    introspections (Introspection list), tls_errors, lock (guards the lists).
    Methods: start, stop, issued_tokens, issue_token, token_info, revoke,
    revoke_all, refresh_tokens, add_refresh_token, register_client_cert,
    token_requests, wait_for.
    """

    host = "localhost"

    def __init__(self, client_id="inboxfs-test-client", client_secret=None,
                 client_cert=None, refresh_tokens=(), rotate=True, lifetime=3600,
                 user=dovecot.DEFAULT_USER, scope=None, token_bytes=32):
        self.client_id = client_id
        self.client_secret = client_secret or ("cs-" + secrets.token_urlsafe(24))
        self.rotate = rotate
        self.lifetime = int(lifetime)
        self.user = user
        self.scope = scope
        self.token_bytes = token_bytes
        self.lock = threading.Lock()
        self.requests = []
        self.introspections = []
        self.tls_errors = []
        self._tokens = {}             # access token -> _Token, in issue order
        self._refresh = set(refresh_tokens)
        self._mode = "ok"
        self._mode_change = threading.Lock()   # serializes listener down/up
        self._client_cert = client_cert
        self._client_pubkey = None
        self._client_x5t = None
        self.dir = None
        self._token_listener = self._introspect_listener = None

    # ------------------------------------------------------------ lifecycle
    def start(self):
        if self.dir is not None:
            raise RuntimeError("already started")
        self.dir = tempfile.mkdtemp(prefix="tok", dir="/tmp")
        try:
            # make_server_cert writes fixed names: a directory of our own
            ca_crt, ca_key = dovecot.make_ca(self.dir, "ca", "inboxfs test token CA")
            crt, key = dovecot.make_server_cert(self.dir, ca_crt, ca_key,
                                                san="DNS:localhost,IP:127.0.0.1",
                                                cn="inboxfs test token server")
            os.unlink(ca_key)
            self.cafile = ca_crt
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(crt, key)
            if self._client_cert is not None:
                self.register_client_cert(self._client_cert)
            self._token_listener = _Listener(self, _TokenHandler, ctx)
            self._introspect_listener = _Listener(self, _IntrospectHandler)
            self.port = self._token_listener.port
            self.introspect_port = self._introspect_listener.port
            self.token_url = "https://%s:%d/token" % (self.host, self.port)
            self.introspect_url = "http://127.0.0.1:%d/introspect" % self.introspect_port
            self._introspect_listener.up()
            if self.mode != "down":
                self._token_listener.up()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Close both listeners and remove the directory; idempotent."""
        for lst in (self._token_listener, self._introspect_listener):
            if lst is not None:
                lst.close()
        self._token_listener = self._introspect_listener = None
        if self.dir and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self):
        if self.dir is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------ control
    @property
    def mode(self):
        with self.lock:
            return self._mode

    @mode.setter
    def mode(self, value):
        if value not in MODES:
            raise ValueError("mode must be one of %s" % ", ".join(MODES))
        with self._mode_change:
            with self.lock:
                old, self._mode = self._mode, value
            if self._token_listener is None:
                return
            # returns once connect() is refused / accepted again
            if value == "down" and old != "down":
                self._token_listener.down()
            elif value != "down" and old == "down":
                self._token_listener.up()

    def register_client_cert(self, cert_path):
        """Accept client assertions whose x5t is this certificate's, signed
        by its key (the only registered certificate: replaces any other)."""
        rc, pub, err = _openssl(["x509", "-in", cert_path, "-pubkey", "-noout"])
        if rc != 0:
            raise RuntimeError("openssl x509 -pubkey failed: " + err.decode(errors="replace"))
        x5t = cert_thumbprint(cert_path)
        with self.lock:
            self._client_cert, self._client_pubkey, self._client_x5t = cert_path, pub, x5t

    def issue_token(self, user=None, lifetime=None, scope=None, client_id=None):
        """Mint an access token without an HTTP request (it is not recorded
        in .requests); returns it."""
        now, wall = time.monotonic(), time.time()
        life = self.lifetime if lifetime is None else int(lifetime)
        tok = secrets.token_urlsafe(self.token_bytes)
        with self.lock:
            self._tokens[tok] = _Token(tok, user or self.user, client_id or self.client_id,
                                       scope, now, now + life, wall, life)
        return tok

    def issued_tokens(self):
        """Every access token issued so far, oldest first."""
        with self.lock:
            return list(self._tokens)

    def token_info(self, token):
        """A copy of what the server knows of an access token, or None."""
        with self.lock:
            t = self._tokens.get(token)
            return dataclasses.replace(t) if t else None

    def revoke(self, token):
        """Make an issued access token inactive; False if unknown."""
        with self.lock:
            t = self._tokens.get(token)
            if t is None:
                return False
            t.revoked = True
            return True

    def revoke_all(self):
        with self.lock:
            for t in self._tokens.values():
                t.revoked = True

    def refresh_tokens(self):
        """The refresh tokens valid now."""
        with self.lock:
            return set(self._refresh)

    def add_refresh_token(self, token=None):
        token = token or ("rt-" + secrets.token_urlsafe(32))
        with self.lock:
            self._refresh.add(token)
        return token

    def wait_for(self, predicate, timeout=10.0):
        """Poll predicate(self) (called without the lock) until true."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def token_requests(self, grant_type=None):
        """Recorded POSTs to /token (optionally of one grant type)."""
        with self.lock:
            return [r for r in self.requests if r.path == "/token" and
                    (grant_type is None or r.grant_type == grant_type)]

    # ------------------------------------------------------------ /token
    def _handle_token(self, h):
        body = h._read_body()
        rec = TokenRequest(t=time.monotonic(), wall=time.time(), method=h.command,
                           path=urllib.parse.urlsplit(h.path).path, mode=self.mode,
                           headers=dict(h.headers.items()))
        fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        rec.form = {k: v[0] for k, v in fields.items()}
        dup = [k for k, v in fields.items() if len(v) > 1]
        rec.grant_type = rec.form.get("grant_type")
        rec.scope = rec.form.get("scope")
        try:
            if rec.mode == "down":
                # lost the race with mode = "down": what a dead server does
                rec.error = "down"
                h.close_connection = True
                return
            if rec.mode in ("malformed", "nonjson", "error500"):
                self._fault_answer(h, rec)
                return
            if rec.path != "/token":
                rec.status, rec.error = 404, "not_found"
                h._send(404, {"error": "not_found"})
                return
            if h.command != "POST":
                raise OAuthError(405, "invalid_request", 900561,
                                 "The endpoint only accepts POST requests. Received a %s request."
                                 % h.command)
            ctype = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/x-www-form-urlencoded":
                raise OAuthError(400, "invalid_request", 900144,
                                 "The request body must contain the following parameter: "
                                 "'grant_type'.")
            if dup:
                raise OAuthError(400, "invalid_request", 90014,
                                 "Parameter '%s' is repeated." % dup[0])
            answer = self._grant(h, rec)
            rec.status = 200
            h._send(200, answer)
        except OAuthError as e:
            rec.status, rec.error, rec.error_description = e.status, e.error, e.text
            h._send(e.status, e.body())
        finally:
            with self.lock:
                self.requests.append(rec)

    def _fault_answer(self, h, rec):
        rec.error = rec.mode
        if rec.mode == "malformed":
            # a real success answer cut short: valid HTTP, broken JSON
            full = json.dumps({"token_type": "Bearer", "expires_in": self.lifetime,
                               "access_token": secrets.token_urlsafe(self.token_bytes)})
            rec.status = 200
            h._send(200, full[:len(full) // 2])
        elif rec.mode == "nonjson":
            rec.status = 200
            h._send(200, "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
                         "<body><p>Please sign in to continue.</p></body></html>\n",
                    "text/html; charset=utf-8")
        else:
            rec.status = 500
            h._send(500, "<!DOCTYPE html>\n<html><head><title>500 Internal Server Error"
                         "</title></head><body><h1>Internal Server Error</h1></body></html>\n",
                    "text/html; charset=utf-8")

    def _client_credentials_from(self, h, rec):
        """(client_id, secret or None, how) from the form or HTTP Basic."""
        form = rec.form
        auth = h.headers.get("Authorization") or ""
        if auth[:6].lower() == "basic ":
            try:
                raw = base64.b64decode(auth[6:].strip(), validate=True).decode()
                cid, _, sec = raw.partition(":")
                cid, sec = urllib.parse.unquote_plus(cid), urllib.parse.unquote_plus(sec)
            except ValueError:
                raise OAuthError(401, "invalid_client", 7000215,
                                 "Invalid client secret provided.")
            if form.get("client_id") not in (None, cid):
                raise OAuthError(400, "invalid_request", 700021,
                                 "Client identifier in the body differs from the one "
                                 "in the Authorization header.")
            return cid, sec, "basic"
        if "client_secret" in form:
            return form.get("client_id"), form["client_secret"], "secret"
        return form.get("client_id"), None, None

    def _check_secret(self, cid, secret, mode):
        if cid != self.client_id:
            raise OAuthError(400, "unauthorized_client", 700016,
                             "Application with identifier '%s' was not found in the "
                             "directory 'inboxfs-test'." % cid)
        if mode == "wrong_secret" or not secrets.compare_digest(
                secret.encode(), self.client_secret.encode()):
            raise OAuthError(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent "
                             "in the request is the client secret value, not the client "
                             "secret ID, for a secret added to app '%s'." % self.client_id)

    def _check_scope(self, scope):
        if self.scope is None:
            return
        if not scope or self.scope not in scope.split():
            raise OAuthError(400, "invalid_scope", 70011,
                             "The provided request must include a 'scope' input parameter "
                             "with the value '%s'." % self.scope)

    def _grant(self, h, rec):
        form = rec.form
        gt = rec.grant_type
        cid, secret, how = self._client_credentials_from(h, rec)
        if gt == "client_credentials":
            if form.get("client_assertion_type") is not None or "client_assertion" in form:
                if form.get("client_assertion_type") != JWT_BEARER:
                    raise OAuthError(400, "invalid_request", 700024,
                                     "client_assertion_type must be '%s'." % JWT_BEARER)
                rec.client_auth = "assertion"
                cid = self._verify_assertion(form.get("client_assertion") or "", cid, rec.mode)
            elif secret is not None:
                rec.client_auth = how
                self._check_secret(cid, secret, rec.mode)
            else:
                raise OAuthError(401, "invalid_client", 7000218,
                                 "The request body must contain the following parameter: "
                                 "'client_assertion' or 'client_secret'.")
            self._check_scope(rec.scope)
            tok = self.issue_token(scope=rec.scope, client_id=cid)
            rec.token, rec.expires_in = tok, self.token_info(tok).lifetime
            return {"token_type": "Bearer", "expires_in": rec.expires_in, "access_token": tok}
        if gt == "refresh_token":
            if cid is None:
                raise OAuthError(400, "invalid_request", 900144,
                                 "The request body must contain the following parameter: "
                                 "'client_id'.")
            if secret is not None:      # a confidential client: check it too
                rec.client_auth = how
                self._check_secret(cid, secret, rec.mode)
            elif cid != self.client_id:
                raise OAuthError(400, "unauthorized_client", 700016,
                                 "Application with identifier '%s' was not found in the "
                                 "directory 'inboxfs-test'." % cid)
            old = form.get("refresh_token") or ""
            if not old:
                raise OAuthError(400, "invalid_request", 900144,
                                 "The request body must contain the following parameter: "
                                 "'refresh_token'.")
            with self.lock:     # check and rotate at once: a token is good once
                valid = old in self._refresh
                new = old
                if valid and self.rotate:
                    new = "rt-" + secrets.token_urlsafe(32)
                    self._refresh.discard(old)
                    self._refresh.add(new)
            if not valid:
                raise OAuthError(400, "invalid_grant", 70000,
                                 "The provided value for the 'refresh_token' is not valid: "
                                 "unknown, revoked or already used.")
            self._check_scope(rec.scope)
            tok = self.issue_token(scope=rec.scope, client_id=cid)
            rec.token, rec.refresh_token = tok, new
            rec.expires_in = self.token_info(tok).lifetime
            return {"token_type": "Bearer", "expires_in": rec.expires_in,
                    "access_token": tok, "refresh_token": new}
        if not gt:
            raise OAuthError(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: "
                             "'grant_type'.")
        raise OAuthError(400, "unsupported_grant_type", 70003,
                         "The app requested an unsupported grant type '%s'." % gt)

    def _verify_assertion(self, assertion, form_client_id, mode):
        """Check a client assertion the way Entra does for certificate
        credentials; returns the client id, raises OAuthError."""
        with self.lock:
            pubkey, x5t = self._client_pubkey, self._client_x5t
        if pubkey is None:
            raise _bad_assertion("no certificate is registered for this application",
                                 700027)
        parts = assertion.split(".")
        if len(parts) != 3:
            raise _bad_assertion("JWT token is invalid or malformed (not 3 parts).")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except ValueError as e:
            raise _bad_assertion("JWT token is invalid or malformed (%s)." % e)
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise _bad_assertion("JWT token is invalid or malformed (not JSON objects).")
        if header.get("alg") != "RS256":
            raise _bad_assertion("unsupported alg %r (RS256 expected)." % header.get("alg"))
        if header.get("x5t") != x5t:
            raise _bad_assertion("the certificate with thumbprint (x5t) %r is not registered "
                                 "for this application." % header.get("x5t"), 700027)
        if mode == "wrong_secret" or not self._signature_ok(
                (parts[0] + "." + parts[1]).encode(), sig, pubkey):
            raise _bad_assertion("Client assertion failed signature validation.", 700027)
        now = time.time()
        iss, sub = claims.get("iss"), claims.get("sub")
        if claims.get("aud") != self.token_url:
            raise _bad_assertion("audience (aud) %r is not the token endpoint %s."
                                 % (claims.get("aud"), self.token_url), 700212)
        if iss != self.client_id or sub != self.client_id:
            raise _bad_assertion("iss and sub must both be the client id (iss=%r, sub=%r)."
                                 % (iss, sub), 700023)
        if form_client_id not in (None, iss):
            raise _bad_assertion("Client assertion application identifier doesn't match "
                                 "'client_id' parameter.", 700021)
        for name in ("exp", "nbf", "iat"):
            v = claims.get(name)
            if name != "nbf" or v is not None:   # nbf is optional in RFC 7523
                if not isinstance(v, (int, float)) or isinstance(v, bool):
                    raise _bad_assertion("claim %s missing or not a number." % name)
        if claims["exp"] <= now:
            raise _bad_assertion("Client assertion is not within its valid time range "
                                 "(expired).", 700024)
        for name in ("nbf", "iat"):
            if claims.get(name) is not None and claims[name] > now + CLOCK_SKEW:
                raise _bad_assertion("Client assertion is not within its valid time range "
                                     "(%s in the future)." % name, 700024)
        if not isinstance(claims.get("jti"), str) or not claims["jti"]:
            raise _bad_assertion("claim jti missing.")
        return iss

    def _signature_ok(self, signing_input, sig, pubkey_pem):
        with tempfile.TemporaryDirectory(dir=self.dir) as d:
            pub, sigf = os.path.join(d, "pub.pem"), os.path.join(d, "sig.bin")
            with open(pub, "wb") as f:
                f.write(pubkey_pem)
            with open(sigf, "wb") as f:
                f.write(sig)
            rc, out, _ = _openssl(["dgst", "-sha256", "-verify", pub, "-signature", sigf],
                                  signing_input)
        return rc == 0 and b"Verified OK" in out

    # ------------------------------------------------------------ /introspect
    def _handle_introspect(self, h):
        body = h._read_body()
        if urllib.parse.urlsplit(h.path).path != "/introspect":
            h._send(404, {"error": "not_found"})
            return
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        token = (form.get("token") or [None])[0]
        now = time.monotonic()
        with self.lock:
            t = self._tokens.get(token) if token else None
            if token is None:
                reason = "missing"
            elif t is None:
                reason = "unknown"
            elif t.revoked:
                reason = "revoked"
            elif not t.issued <= now < t.expires:
                reason = "expired"
            else:
                reason = "ok"
            self.introspections.append(Introspection(now, token, reason == "ok", reason))
        if reason != "ok":
            # 200 + active:false is the only answer Dovecot turns into
            # AUTHENTICATIONFAILED (anything else: temporary failure)
            h._send(200, {"active": False})
            return
        h._send(200, {
            "active": True, "username": t.user, "sub": t.user, "client_id": t.client_id,
            "scope": t.scope or "", "token_type": "Bearer",
            "iat": int(t.issued_wall), "exp": int(t.issued_wall + t.lifetime),
        })


# ------------------------------------------------------------ selftest
def _selftest():
    import imaplib

    if os.geteuid() != 0:
        print("selftest: must run as root (Dovecot is started as root)")
        return 2
    results = []

    def check(name, ok, detail=""):
        results.append(bool(ok))
        print("%s: %s%s" % ("PASS" if ok else "FAIL", name,
                            "" if ok or not detail else " (%s)" % detail), flush=True)

    certdir = tempfile.mkdtemp(prefix="tokst", dir="/tmp")
    ts = dc = None
    try:
        good_crt, good_key = make_client_cert(certdir)
        other_crt, other_key = make_client_cert(certdir, name="other")
        check("client key is mode 0600 and a PEM private key",
              os.stat(good_key).st_mode & 0o777 == 0o600 and
              b"PRIVATE KEY-----" in open(good_key, "rb").read())
        rt0 = "rt-" + secrets.token_urlsafe(16)
        ts = TokenServer(client_id="inboxfs-selftest", client_cert=good_crt,
                         refresh_tokens=[rt0], lifetime=5).start()
        dc = dovecot.Dovecot(oauth2_introspect_url=ts.introspect_url)
        ctx = ssl.create_default_context(cafile=ts.cafile)

        def post(fields, url=None, timeout=10):
            """(status, body bytes, parsed JSON or None, exception or None)"""
            data = urllib.parse.urlencode(fields).encode()
            req = urllib.request.Request(url or ts.token_url, data=data, method="POST")
            try:
                with urllib.request.urlopen(req, context=ctx, timeout=timeout) as r:
                    status, body = r.status, r.read()
            except urllib.error.HTTPError as e:
                status, body = e.code, e.read()
            except (urllib.error.URLError, OSError) as e:
                return None, b"", None, e
            try:
                js = json.loads(body)
            except ValueError:
                js = None
            return status, body, js, None

        def cc_secret(secret=None):
            return post({"client_id": ts.client_id, "client_secret": secret or ts.client_secret,
                         "scope": "https://outlook.office365.com/.default",
                         "grant_type": "client_credentials"})

        def cc_assertion(assertion):
            return post({"client_id": ts.client_id, "client_assertion_type": JWT_BEARER,
                         "client_assertion": assertion,
                         "scope": "https://outlook.office365.com/.default",
                         "grant_type": "client_credentials"})

        def login(mech, token, user=None):
            """(ok, what the server said, challenges seen after the first)"""
            user = user or dc.user
            m = imaplib.IMAP4_SSL(dc.host, dc.imaps_port, ssl_context=dc.ssl_context(),
                                  timeout=30)
            seen = []

            def answer(challenge):
                seen.append(challenge)
                if len(seen) > 1:   # the error challenge (notes item 10)
                    return b"" if mech == "XOAUTH2" else b"\x01"
                if mech == "XOAUTH2":
                    return ("user=%s\x01auth=Bearer %s\x01\x01" % (user, token)).encode()
                return ("n,a=%s,\x01host=%s\x01port=%d\x01auth=Bearer %s\x01\x01"
                        % (user, dc.host, dc.imaps_port, token)).encode()
            try:
                typ, data = m.authenticate(mech, answer)
                return typ == "OK", data[0].decode(errors="replace"), seen[1:]
            except imaplib.IMAP4.error as e:
                return False, str(e), seen[1:]
            finally:
                try:
                    m.logout()
                except Exception:
                    pass

        def refused(result):
            ok, said, challenges = result
            return not ok and "AUTHENTICATIONFAILED" in said and len(challenges) == 1

        # --- client credentials with a secret, then both SASL mechanisms
        status, _, js, _ = cc_secret()
        tok = (js or {}).get("access_token")
        check("client_credentials (secret) issues a Bearer token, expires_in 5",
              status == 200 and js.get("token_type") == "Bearer" and js.get("expires_in") == 5
              and isinstance(tok, str) and len(tok) > 20, "status %s" % status)
        t_issued = time.monotonic()
        r = login("XOAUTH2", tok)
        check("XOAUTH2 login with that token succeeds", r[0], r[1])
        r = login("OAUTHBEARER", tok)
        check("OAUTHBEARER login with that token succeeds", r[0], r[1])
        last = ts.introspections[-1] if ts.introspections else None
        check("Dovecot introspected the token (POST token=...)",
              last is not None and last.token == tok and last.active)
        n = len(ts.introspections)
        m = dc.connect()
        m.logout()
        check("PLAIN login still works and never reaches the introspection URL",
              len(ts.introspections) == n)

        r = login("XOAUTH2", "never-issued-" + secrets.token_hex(8))
        check("XOAUTH2 with an unknown token: +challenge, then NO [AUTHENTICATIONFAILED]",
              refused(r), r[1])
        r = login("OAUTHBEARER", "never-issued-" + secrets.token_hex(8))
        check("OAUTHBEARER with an unknown token: +challenge, then NO [AUTHENTICATIONFAILED]",
              refused(r) and b"invalid_token" in r[2][0], r[1])

        # --- revocation
        status, _, js, _ = cc_secret()
        tok2 = (js or {}).get("access_token")
        ok_before = login("XOAUTH2", tok2)[0]
        ts.revoke(tok2)
        r = login("XOAUTH2", tok2)
        check("a revoked token is refused (it worked before)", ok_before and refused(r)
              and ts.introspections[-1].reason == "revoked", r[1])

        # --- expiry: the first token is 5 s old
        time.sleep(max(0.0, t_issued + 5.3 - time.monotonic()))
        r = login("XOAUTH2", tok)
        check("a token after its 5 s lifetime is refused", refused(r)
              and ts.introspections[-1].reason == "expired", r[1])
        r = login("OAUTHBEARER", tok)
        check("... with OAUTHBEARER too", refused(r), r[1])

        # --- client assertions
        status, body, js, _ = cc_assertion(make_client_assertion(
            ts.token_url, ts.client_id, good_crt, good_key))
        tok3 = (js or {}).get("access_token")
        check("a JWT client assertion signed with the registered key is accepted",
              status == 200 and tok3 and ts.requests[-1].client_auth == "assertion",
              "status %s %s" % (status, body[:200]))
        r = login("XOAUTH2", tok3)
        check("... and its token logs in", r[0], r[1])

        def assertion_refused(name, assertion, why):
            status, body, js, _ = cc_assertion(assertion)
            desc = (js or {}).get("error_description", "")
            check(name, status == 400 and js.get("error") == "invalid_grant"
                  and why in desc and ts.requests[-1].token is None,
                  "status %s %s" % (status, body[:300]))

        assertion_refused("an assertion signed by a different key is refused",
                          make_client_assertion(ts.token_url, ts.client_id, good_crt,
                                                other_key), "signature")
        assertion_refused("an assertion for an unregistered certificate is refused",
                          make_client_assertion(ts.token_url, ts.client_id, other_crt,
                                                other_key), "thumbprint")
        assertion_refused("an expired assertion is refused",
                          make_client_assertion(ts.token_url, ts.client_id, good_crt,
                                                good_key, now=time.time() - 700), "expired")
        assertion_refused("an assertion from the future (iat +5 min) is refused",
                          make_client_assertion(ts.token_url, ts.client_id, good_crt,
                                                good_key, now=time.time() + 300),
                          "in the future")
        assertion_refused("an assertion for another audience is refused",
                          make_client_assertion(ts.token_url + "x", ts.client_id, good_crt,
                                                good_key), "audience")
        assertion_refused("an assertion without jti is refused",
                          make_client_assertion(ts.token_url, ts.client_id, good_crt,
                                                good_key, claims={"jti": None}), "jti")
        assertion_refused("an assertion with alg none is refused",
                          make_client_assertion(ts.token_url, ts.client_id, good_crt,
                                                good_key, header={"alg": "none"}), "alg")

        # --- refresh tokens rotate
        def refresh(rt):
            return post({"client_id": ts.client_id, "grant_type": "refresh_token",
                         "refresh_token": rt})
        status, _, js, _ = refresh(rt0)
        rt1 = (js or {}).get("refresh_token")
        check("a refresh_token grant answers a token and a new refresh token",
              status == 200 and js.get("access_token") and rt1 and rt1 != rt0,
              "status %s" % status)
        status, _, js, _ = refresh(rt0)
        check("the old refresh token is then invalid_grant",
              status == 400 and (js or {}).get("error") == "invalid_grant", "status %s" % status)
        status, _, js, _ = refresh(rt1)
        check("the new one works once more and rotates again",
              status == 200 and js.get("refresh_token") not in (rt0, rt1)
              and ts.refresh_tokens() == {js.get("refresh_token")}, "status %s" % status)

        # --- a wrong secret
        status, body, js, _ = cc_secret("not-the-secret")
        check("a wrong secret gives 401 invalid_client AADSTS7000215",
              status == 401 and (js or {}).get("error") == "invalid_client"
              and js.get("error_codes") == [7000215]
              and js.get("error_description", "").startswith("AADSTS7000215: Invalid client "
                                                             "secret provided.")
              and "Trace ID: " in js.get("error_description", ""), "status %s" % status)
        check("the request log keeps the secret for log searches",
              ts.requests[-1].form.get("client_secret") == "not-the-secret"
              and ts.requests[-1].status == 401)

        # --- fault modes
        ts.mode = "down"
        status, _, _, err = cc_secret()
        refused_now = isinstance(getattr(err, "reason", err), ConnectionRefusedError)
        try:
            socket.create_connection(("127.0.0.1", ts.port), timeout=2).close()
            raw_refused = False
        except ConnectionRefusedError:
            raw_refused = True
        check("mode down: connection refused", status is None and refused_now and raw_refused,
              repr(err))
        ts.mode = "ok"
        status, _, js, _ = cc_secret()
        check("mode ok again: served on the same port", status == 200
              and js.get("access_token") and ts.token_url.endswith(":%d/token" % ts.port))
        ts.mode = "malformed"
        status, body, js, _ = cc_secret()
        check("mode malformed: 200 with truncated JSON",
              status == 200 and js is None and body.startswith(b'{"token_type"'))
        ts.mode = "nonjson"
        status, body, js, _ = cc_secret()
        check("mode nonjson: 200 with an HTML page", status == 200 and js is None
              and b"<html>" in body)
        ts.mode = "error500"
        status, body, js, _ = cc_secret()
        check("mode error500: 500 with HTML", status == 500 and b"<html>" in body)
        ts.mode = "wrong_secret"
        status, _, js, _ = cc_secret()
        check("mode wrong_secret: the right secret gets AADSTS7000215",
              status == 401 and (js or {}).get("error_codes") == [7000215])
        ts.mode = "ok"
        status, _, js, _ = cc_secret()
        check("mode ok: the right secret works again", status == 200)

        # --- the Dovecot side survives its own crash/restart, and add_user
        tok4 = js.get("access_token") if js else None
        dc.crash()
        dc.restart()
        r = login("XOAUTH2", tok4)
        check("after a Dovecot crash + restart, XOAUTH2 still works", r[0], r[1])
        dc.add_user("bob")
        tok5 = ts.issue_token(user="bob")
        r = login("XOAUTH2", tok5, user="bob")
        check("add_user: bob logs in with a token issued for bob", r[0], r[1])
        r = login("XOAUTH2", tok5)
        check("... and that token is no good for alice", refused(r), r[1])
    except Exception as e:  # report, don't hide: a crash is a failure
        import traceback
        traceback.print_exc()
        check("selftest ran to the end", False, repr(e))
    finally:
        if dc is not None:
            dc.stop()
        if ts is not None:
            ts.stop()
        shutil.rmtree(certdir, ignore_errors=True)
    print("%d passed, %d failed" % (results.count(True), results.count(False)))
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    if sys.argv[1:] != ["selftest"]:
        print("usage: %s selftest" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    sys.exit(_selftest())
