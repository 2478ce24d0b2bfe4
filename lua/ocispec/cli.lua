--- The `ocispec` command (bin/ocispec): subcommands over the module.
--
-- `main(argv)` returns the exit status: 0 success, 1 a document is
-- invalid (or a check failed), 2 usage or I/O error. Errors go to stderr
-- as one line `ocispec <command>: <what>: <why>`; nothing is half-written
-- (files are written atomically by the library).
--
-- The commands live in `ocispec.cli.<group>` modules, one per group, which
-- register themselves with `ocispec.cli.base`; `ocispec --help` lists them
-- in the order loaded here.
-- @module ocispec.cli
local oci = require "ocispec"
local base = require "ocispec.cli.base"

for _, group in ipairs({ "documents", "images", "files", "mutate", "registries", "login", "mirror",
  "artifacts", "layers", "diff" }) do
  require("ocispec.cli." .. group)
end

local M = {}
local commands, order, Exit = base.commands, base.order, base.Exit

--- Document kinds `--kind` accepts, and their classes.
M.KINDS = base.KINDS
M.detect_kind = base.detect_kind


local function usage()
  local lines = { "usage: ocispec COMMAND [OPTIONS] [ARGS]", "", "Commands:" }
  for _, name in ipairs(order) do
    lines[#lines + 1] = ("  %-10s %s"):format(name, commands[name].summary)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "`ocispec COMMAND --help` describes a command."
  return table.concat(lines, "\n") .. "\n"
end

--- Runs the command line `argv` (a list of strings); returns the exit
-- status. `out` (default io.stdout) receives normal output.
function M.main(argv, out)
  out = out or io.stdout
  local name = argv[1]
  if name == nil or name == "--help" or name == "-h" or name == "help" then
    local cmd = name == "help" and argv[2] and commands[argv[2]]
    out:write(cmd and cmd.usage .. "\n" or usage())
    return name == nil and 2 or 0
  end
  if name == "--version" then
    out:write("ocispec ", oci._VERSION, "\n")
    return 0
  end
  local cmd = commands[name]
  if not cmd then
    io.stderr:write(("ocispec: unknown command %q (see ocispec --help)\n"):format(name))
    return 2
  end
  local args = table.move(argv, 2, #argv, 1, {})
  for _, a in ipairs(args) do
    if a == "--help" or a == "-h" then
      out:write(cmd.usage, "\n")
      return 0
    end
  end
  local ok, status = pcall(cmd.run, args, out)
  if ok then return status end
  if getmetatable(status) == Exit then
    io.stderr:write(("ocispec %s: %s\n"):format(name, status.msg))
    return status.status
  end
  -- a part this build lacks (util.unavailable): a plain message, status 2
  local missing = tostring(status):gsub("^[^:\n]*:%d+: ", "")
  if missing:find("not available (built without ", 1, true) then
    io.stderr:write(("ocispec %s: %s\n"):format(name, missing))
    return 2
  end
  io.stderr:write(("ocispec %s: internal error: %s\n"):format(name, tostring(status)))
  return 2
end

--- Adds a subcommand (used as library parts land): name, one-line
-- summary, usage text, run(args, out) -> status. `fail(status, msg)` and
-- `parse_args` are passed as helpers.
function M.command(name, summary, usage_text, run)
  base.command(name, summary, usage_text, run)
end
M.fail = base.fail
M.parse_args = base.parse_args

return M
