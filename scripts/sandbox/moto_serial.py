# moto's server, with each request handled under one lock.
#
# DynamoDB makes a conditional write (attribute_not_exists) atomic, and so
# does S3 for If-None-Match; moto's threaded server checks the condition and
# writes in separate steps, so two racing conditional writes can both succeed
# (seen: two lock holders in one round of 16 racers). Serialising requests
# restores the guarantee the real services give; connections are still
# accepted concurrently, so clients race exactly as they would against AWS.
import sys
import threading

import moto.server as server

_lock = threading.Lock()
_App = server.DomainDispatcherApplication


class SerializedApp(_App):
    def __call__(self, environ, start_response):
        with _lock:
            return super().__call__(environ, start_response)


server.DomainDispatcherApplication = SerializedApp
server.main(sys.argv[1:])
