-- luacheck configuration (ctest test `luacheck`).
std = "lua54"
codes = true
max_line_length = 120

exclude_files = {
  "build*/**",
  "lua_modules/**",
  ".luarocks/**",
}

files["spec"] = { std = "+busted" }
files[".busted"] = { std = "+busted" }
