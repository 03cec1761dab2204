# Turns a file into a NUL-terminated C char array (used for docs/openapi.yaml).
# Usage: cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed.cmake
file(READ "${IN}" content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE "${OUT}.tmp"
  "/* Generated from ${IN} by src/server/embed.cmake; do not edit. */\n"
  "extern const char ${NAME}[];\nconst char ${NAME}[] = {${bytes}0x00};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
