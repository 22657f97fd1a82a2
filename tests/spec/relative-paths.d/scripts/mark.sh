#!/bin/sh
echo "$1" >> ran
