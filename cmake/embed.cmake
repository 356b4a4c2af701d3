# embed: writes a C file holding the bytes of a file, so a binary carries
# the file without reading it at run time (the relay's OpenAPI document).
#   cmake -DIN=file -DOUT=file.c -DNAME=symbol -P cmake/embed.cmake
# defines `const unsigned char NAME[]` (NUL-terminated for convenience)
# and `const size_t NAME_len` (without the NUL).
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR len "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# a line break every 16 bytes (80 hex digits between 16 "0x")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n    " bytes "${bytes}")
file(WRITE "${OUT}.tmp"
  "/* generated from ${IN} by cmake/embed.cmake: do not edit */\n"
  "#include <stddef.h>\n"
  "extern const unsigned char ${NAME}[];\n"
  "extern const size_t ${NAME}_len;\n"
  "const unsigned char ${NAME}[] = {\n    ${bytes}0x00};\n"
  "const size_t ${NAME}_len = ${len};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
