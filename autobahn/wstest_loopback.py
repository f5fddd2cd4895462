"""Runs wstest with every listening socket bound to 127.0.0.1.

wstest's fuzzingserver and echoserver listen on all interfaces (autobahn's listenWS
binds interface ''), whatever host the spec's "url" names. This wrapper makes Twisted's
listenTCP default to 127.0.0.1, then runs wstest with the same arguments:

    autobahn/.venv/bin/python autobahn/wstest_loopback.py -m fuzzingserver \
        -s autobahn/fuzzingserver.json -u 0

`-u 0` is what turns off fuzzingserver's web UI on port 8080: the "webport" key of a
spec file is not read by wstest (only the command-line option is).
"""
import sys

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
