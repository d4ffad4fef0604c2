#!/bin/sh
# images: is not a kustomization here
echo warming
