"""Runs wstest with every listening socket bound to 127.0.0.1, and SHA-1 from OpenSSL.

wstest's fuzzingserver and echoserver listen on all interfaces (autobahn's listenWS
binds interface ''), whatever host the spec's "url" names. This wrapper makes Twisted's
listenTCP default to 127.0.0.1, then runs wstest with the same arguments:

    autobahn/.venv/bin/python autobahn/wstest_loopback.py -m fuzzingserver \
        -s autobahn/fuzzingserver.json -u 0

`-u 0` is what turns off fuzzingserver's web UI on port 8080: the "webport" key of a
spec file is not read by wstest (only the command-line option is).

It also gives `hashlib.sha1` OpenSSL's SHA-1 when this Python has none. pyenv's 2.7.18 on
these machines is built without OpenSSL (no `_hashlib`), so hashlib falls back to its own
SHA-1, about 3x slower; wstest's deflate cases (groups 12 and 13) hash every message they
send and every echo they get, and that fallback was the largest single cost in a profile of
group 12 (9 of 32 CPU seconds). The `cryptography` package wstest already installs wraps
OpenSSL's SHA-1: the same digests, computed faster. Nothing else of wstest changes.
"""
import hashlib
import sys

from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import hashes


class _OpenSslSha1(object):
    """hashlib's sha1 interface (update, digest, hexdigest, copy) over OpenSSL's SHA-1."""

    digest_size = 20
    block_size = 64
    name = 'sha1'

    def __init__(self, data=b'', _hash=None):
        self._hash = _hash or hashes.Hash(hashes.SHA1(), backend=default_backend())
        if data:
            self._hash.update(data)

    def update(self, data):
        self._hash.update(data)

    def digest(self):
        return self._hash.copy().finalize()

    def hexdigest(self):
        return self.digest().encode('hex')

    def copy(self):
        return _OpenSslSha1(_hash=self._hash.copy())


try:
    import _hashlib  # noqa: F401 (present when Python was built with OpenSSL)
except ImportError:
    hashlib.sha1 = _OpenSslSha1

from autobahntestsuite import choosereactor  # noqa: F401 (must install the reactor first)
from twisted.internet import reactor

_listen_tcp = reactor.listenTCP


def _listen_tcp_loopback(port, factory, backlog=50, interface=''):
    return _listen_tcp(port, factory, backlog, interface or '127.0.0.1')


reactor.listenTCP = _listen_tcp_loopback

from autobahntestsuite import wstest  # noqa: E402

if __name__ == '__main__':
    sys.argv[0] = 'wstest'
    wstest.run()
