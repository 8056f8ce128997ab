#!/bin/sh
set -e
case "$1" in
  build) go build -o main . ;;
  run) ./main ;;
esac
