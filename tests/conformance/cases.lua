-- ocispec's own spec-case corpus (tests/cases/INDEX.tsv): every document is
-- parsed with the type for its kind and validated, and the verdict, rule and
-- JSON Pointer are checked against the row.
--
--   OCISPEC_SOURCE_DIR=. LUA_PATH=... LUA_CPATH=... lua5.4 tests/conformance/cases.lua
--
-- INDEX.tsv columns: file, kind, expect, rule, pointer, source, note.
--   expect  valid       from_json gives an object, validate() is true, no warnings
--           warning     validate() is true and reports a warning with `rule`
--           invalid     validate() is nil and reports an error with `rule`
--           parse-error from_json gives nil; `rule` is `parse` or `parse:<code>`
--                       (the error code: syntax, type, missing, range, ...)
--   pointer the JSON Pointer of that problem; `#` is the root (its URI
--           fragment form), `-` means not checked.
-- Lines starting with `#` are comments.
--
-- With --reference it checks the reference validator instead
-- (ctest conformance_cases_reference): $OCISPEC_CONFORMANCE/validate.py
-- (official schemas + image-spec's Go checks, python3-jsonschema) runs over
-- the image kinds, and every disagreement with our expectation must be a row
-- of tests/cases/REFERENCE.tsv (file, what the reference says, our rule, the
-- reason; docs/validation.md, "Where the schema and the prose disagree"). A new
-- disagreement fails, and so does a row that no longer disagrees. Without
-- validate.py or jsonschema it prints "SKIP: ..." and exits 77.
local oci = require("ocispec")
local reference_mode = arg and arg[1] == "--reference"

local function dirname(p)
  return (p:match("^(.*)/[^/]*$")) or "."
end

local source_dir = os.getenv("OCISPEC_SOURCE_DIR")
if not source_dir or source_dir == "" then
  -- tests/conformance/cases.lua -> the checkout
  source_dir = dirname(dirname(dirname(arg and arg[0] or "./tests/conformance/cases.lua")))
end
local cases_dir = source_dir .. "/tests/cases"
local index_path = cases_dir .. "/INDEX.tsv"

local TYPES = {
  descriptor = oci.image.Descriptor,
  manifest = oci.image.ImageManifest,
  index = oci.image.ImageIndex,
  config = oci.image.ImageConfiguration,
  layout = oci.image.OciLayout,
  ["error-response"] = oci.distribution.ErrorResponse,
  ["tag-list"] = oci.distribution.TagList,
  ["repository-list"] = oci.distribution.RepositoryList,
}

-- validate.py kinds for the reference run (distribution has no schema)
local REFERENCE_KIND = {
  descriptor = "image-descriptor",
  manifest = "image-manifest",
  index = "image-index",
  config = "image-config",
  layout = "image-layout",
}

local EXPECTS = { valid = true, warning = true, invalid = true, ["parse-error"] = true }
local COLUMNS = { "file", "kind", "expect", "rule", "pointer", "source", "note" }

local passed, failed = 0, 0
local function fail(file, fmt, ...)
  failed = failed + 1
  print(("FAIL %s: " .. fmt):format(file, ...))
end

local function read_file(path)
  local fh, err = io.open(path, "rb")
  if not fh then return nil, err end
  local s = fh:read("a")
  fh:close()
  return s
end

local function split_tabs(line)
  local out = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    out[#out + 1] = field
  end
  return out
end

-- ---------------------------------------------------------------- the index
local rows = {}
do
  local text, err = read_file(index_path)
  if not text then
    print("FAIL cannot read " .. index_path .. ": " .. tostring(err))
    print("0 passed, 1 failed")
    os.exit(1)
  end
  local header = true
  local seen = {}
  local lineno = 0
  for line in text:gmatch("([^\n]*)\n?") do
    lineno = lineno + 1
    if line ~= "" and line:sub(1, 1) ~= "#" then
      local f = split_tabs(line)
      if header then
        header = false
        for i, name in ipairs(COLUMNS) do
          if f[i] ~= name then
            fail("INDEX.tsv", "column %d of the header is %q, expected %q", i, tostring(f[i]), name)
          end
        end
      elseif #f ~= #COLUMNS then
        fail("INDEX.tsv", "line %d has %d columns, expected %d", lineno, #f, #COLUMNS)
      else
        local row = {}
        for i, name in ipairs(COLUMNS) do
          row[name] = f[i]
        end
        row.line = lineno
        if seen[row.file] then
          fail(row.file, "listed twice in INDEX.tsv (lines %d and %d)", seen[row.file], lineno)
        else
          seen[row.file] = lineno
          rows[#rows + 1] = row
        end
      end
    end
  end
  -- every document in tests/cases must be listed
  local p = io.popen("find '" .. cases_dir:gsub("'", "'\\''") .. "' -name '*.json' -type f 2>/dev/null")
  if p then
    for path in p:lines() do
      local rel = path:sub(#cases_dir + 2)
      if not seen[rel] then fail(rel, "document is not listed in INDEX.tsv") end
    end
    p:close()
  end
end

-- ---------------------------------------------------------------- one case
local function pointer_of(col)
  if col == "-" then return nil end
  if col == "#" then return "" end
  return col
end

local function describe(problems)
  local parts = {}
  for _, p in ipairs(problems or {}) do
    parts[#parts + 1] = ("%s %s at '%s' (%s)"):format(p.severity, p.rule, p.pointer, p.message)
  end
  return #parts > 0 and table.concat(parts, "; ") or "nothing"
end

local function find_problem(problems, severity, rule, pointer)
  for _, p in ipairs(problems) do
    if p.severity == severity and p.rule == rule and (pointer == nil or p.pointer == pointer) then
      return p
    end
  end
  return nil
end

local function check_row(row)
  local file = row.file
  local T = TYPES[row.kind]
  if not T then return fail(file, "unknown kind %q", row.kind) end
  if not EXPECTS[row.expect] then return fail(file, "unknown expect %q", row.expect) end
  local dir_verdict, dir_kind = file:match("^(%a+)/([%a-]+)/%d%d%d%-[%w._-]+%.json$")
  if not dir_verdict then return fail(file, "file name is not <good|bad>/<kind>/NNN-name.json") end
  if dir_kind ~= row.kind then return fail(file, "kind column %q, folder %q", row.kind, dir_kind) end
  if (dir_verdict == "good") ~= (row.expect == "valid") and row.expect ~= "warning" then
    return fail(file, "a %s case in the %s folder", row.expect, dir_verdict)
  end
  local text, ioerr = read_file(cases_dir .. "/" .. file)
  if not text then return fail(file, "cannot read: %s", tostring(ioerr)) end

  local pointer = pointer_of(row.pointer)
  local obj, msg, perr = T.from_json(text)
  if row.expect == "parse-error" then
    if obj then
      local ok, a, b = obj:validate()
      return fail(file, "expected a parse error (%s), but it parsed (validate: %s)", row.rule,
        describe(ok and a or b.problems))
    end
    local code = row.rule:match("^parse:(.+)$")
    if row.rule ~= "parse" and not code then
      return fail(file, "rule of a parse-error row must be parse or parse:<code>, got %q", row.rule)
    end
    if type(perr) ~= "table" then return fail(file, "from_json gave no error table (%s)", tostring(msg)) end
    if code and perr.code ~= code then
      return fail(file, "expected parse error code %q, got %q (%s)", code, tostring(perr.code), tostring(msg))
    end
    if pointer and perr.pointer ~= pointer then
      return fail(file, "expected the parse error at '%s', got '%s' (%s)", pointer, tostring(perr.pointer),
        tostring(msg))
    end
    passed = passed + 1
    return
  end
  if not obj then
    return fail(file, "expected %s, but parsing failed: %s", row.expect, tostring(msg))
  end
  local ok, a, b = obj:validate()
  local problems = (ok and a or b and b.problems) or {}
  if row.expect == "valid" then
    if not ok then return fail(file, "expected valid, got invalid: %s", describe(problems)) end
    if #problems > 0 then return fail(file, "expected valid, got warnings: %s", describe(problems)) end
  elseif row.expect == "warning" then
    if not ok then return fail(file, "expected a %s warning, got invalid: %s", row.rule, describe(problems)) end
    if not find_problem(problems, "warning", row.rule, pointer) then
      return fail(file, "expected a %s warning at '%s', got %s", row.rule, tostring(pointer or "*"),
        describe(problems))
    end
  else -- invalid
    if ok then
      return fail(file, "expected invalid (%s at '%s'), but it validated (%s)", row.rule,
        tostring(pointer or "*"), describe(problems))
    end
    if not find_problem(problems, "error", row.rule, pointer) then
      return fail(file, "expected error %s at '%s', got %s", row.rule, tostring(pointer or "*"), describe(problems))
    end
  end
  passed = passed + 1
end

if not reference_mode then
  for _, row in ipairs(rows) do
    check_row(row)
  end
end

-- ---------------------------------------------------------------- reference
local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function reference_run()
  local conformance = os.getenv("OCISPEC_CONFORMANCE")
  if not conformance or conformance == "" then
    conformance = source_dir .. "/../shared/conformance"
  end
  local script = conformance .. "/validate.py"
  if not read_file(script) then
    print("SKIP: reference validator: no " .. script .. " (set OCISPEC_CONFORMANCE)")
    os.exit(77)
  end
  if not os.execute("python3 -c 'import jsonschema' >/dev/null 2>&1") then
    print("SKIP: reference validator: python3 with jsonschema not found (Debian python3-jsonschema)")
    os.exit(77)
  end
  -- the documented disagreements
  local allowed = {}
  do
    local text, err = read_file(cases_dir .. "/REFERENCE.tsv")
    if not text then
      fail("REFERENCE.tsv", "cannot read: %s", tostring(err))
      text = ""
    end
    local header = true
    for line in text:gmatch("([^\n]*)\n?") do
      if line ~= "" and line:sub(1, 1) ~= "#" then
        local f = split_tabs(line)
        if header then
          header = false
        elseif #f ~= 4 or f[4] == "" or (f[2] ~= "OK" and f[2] ~= "INVALID") then
          fail("REFERENCE.tsv", "row %q: want file, OK|INVALID, rule, reason", line)
        else
          allowed[f[1]] = { reference = f[2], rule = f[3], reason = f[4], used = false }
        end
      end
    end
  end
  local by_kind, kinds = {}, {}
  for _, row in ipairs(rows) do
    if REFERENCE_KIND[row.kind] then
      if not by_kind[row.kind] then
        by_kind[row.kind] = {}
        kinds[#kinds + 1] = row.kind
      end
      table.insert(by_kind[row.kind], row)
    end
  end
  table.sort(kinds)
  local compared, disagreements = 0, {}
  for _, kind in ipairs(kinds) do
    local list = by_kind[kind]
    local args, by_path = {}, {}
    for _, row in ipairs(list) do
      local path = cases_dir .. "/" .. row.file
      args[#args + 1] = shell_quote(path)
      by_path[path] = row
    end
    local cmd = ("python3 %s --go-checks %s %s 2>&1"):format(shell_quote(script), REFERENCE_KIND[kind],
      table.concat(args, " "))
    local p = io.popen(cmd)
    local verdicts, first_error, current = {}, {}, nil
    for line in p:lines() do
      local path, v = line:match("^(.*): (OK)$")
      if not path then path, v = line:match("^(.*): (INVALID)$") end
      if not path and #list == 1 and (line == "OK" or line == "INVALID") then
        path, v = cases_dir .. "/" .. list[1].file, line
      end
      if path and by_path[path] then
        verdicts[path] = v
        current = path
      elseif current and line:match("^  %- ") and not first_error[current] then
        first_error[current] = line:sub(5)
      end
    end
    p:close()
    for _, row in ipairs(list) do
      local path = cases_dir .. "/" .. row.file
      local got = verdicts[path]
      if got then
        compared = compared + 1
        local want = (row.expect == "valid" or row.expect == "warning") and "OK" or "INVALID"
        local a = allowed[row.file]
        if got ~= want then
          disagreements[#disagreements + 1] = row.file
          local why = first_error[path] and (" (" .. first_error[path] .. ")") or ""
          if not a then
            fail(row.file, "new disagreement: we expect %s (%s), reference says %s%s: fix it or add it to "
              .. "REFERENCE.tsv with its rule and reason", row.expect, row.rule, got, why)
          elseif a.reference ~= got or (a.rule ~= "-" and a.rule ~= row.rule) then
            fail(row.file, "REFERENCE.tsv says reference %s, rule %s; got %s, rule %s", a.reference, a.rule,
              got, row.rule)
          else
            a.used = true
            passed = passed + 1
            print(("  known: %s: we expect %s (%s), reference says %s: %s"):format(row.file, row.expect,
              row.rule, got, a.reason))
          end
        elseif a then
          fail(row.file, "listed in REFERENCE.tsv, but the reference now agrees (%s): remove the row", got)
        else
          passed = passed + 1
        end
      else
        fail(row.file, "no verdict from the reference validator")
      end
    end
  end
  for _, row in ipairs(rows) do
    if REFERENCE_KIND[row.kind] and allowed[row.file] then allowed[row.file].checked = true end
  end
  for file, a in pairs(allowed) do
    if not a.checked then fail(file, "listed in REFERENCE.tsv but not a case the reference validator checks") end
  end
  print(("reference validator (schemas + --go-checks): %d compared, %d disagree, all listed in REFERENCE.tsv: %s")
    :format(compared, #disagreements, failed == 0 and "yes" or "no"))
end

if reference_mode then reference_run() end

print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
