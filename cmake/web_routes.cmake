# web_routes: the web app's page routes, for the relay to answer 404 for
# any other page path (web.c, cl_web_is_app_route). The one list is the
# app's own: every `route("PATTERN", ...)` line of web/src/main.ts (but the
# catch-all "*"). A `route(` line this cannot read fails the build, so the
# relay never serves a list that differs from the app's.
#   cmake -DIN=web/src/main.ts -DOUT=web_routes.c -P cmake/web_routes.cmake
# defines `const char *const cl_web_routes[]` (NULL-terminated) and
# `const size_t cl_web_routes_n`.
file(STRINGS "${IN}" calls REGEX "^[ \t]*route\\(")
set(entries "")
set(n 0)
foreach(line IN LISTS calls)
  if(NOT line MATCHES "^[ \t]*route\\(\"([^\"]*)\",")
    message(FATAL_ERROR "${IN}: cannot read the route pattern of: ${line}\n"
                        "(write route(\"/pattern\", ...) on one line)")
  endif()
  set(pattern "${CMAKE_MATCH_1}")
  if(pattern STREQUAL "*")
    continue()
  endif()
  if(NOT pattern MATCHES "^/[A-Za-z0-9_./:-]*$")
    message(FATAL_ERROR "${IN}: route pattern \"${pattern}\" is not a path")
  endif()
  string(APPEND entries "    \"${pattern}\",\n")
  math(EXPR n "${n} + 1")
endforeach()
if(n EQUAL 0)
  message(FATAL_ERROR "${IN}: no route(\"...\") lines found")
endif()
file(WRITE "${OUT}.tmp"
  "/* generated from ${IN} by cmake/web_routes.cmake: do not edit */\n"
  "#include <stddef.h>\n"
  "extern const char *const cl_web_routes[];\n"
  "extern const size_t cl_web_routes_n;\n"
  "const char *const cl_web_routes[] = {\n${entries}    NULL};\n"
  "const size_t cl_web_routes_n = ${n};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
