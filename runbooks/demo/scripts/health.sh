#!/bin/sh
# Health check of the demo service: exit 0 when http://127.0.0.1:PORT/health
# answers 200 within 2 s.
exec curl -fsS --max-time 2 "http://127.0.0.1:$1/health"
