@echo off
node "%~dp0prebuildify-cmake.mjs" %*
