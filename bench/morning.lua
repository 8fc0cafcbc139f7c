-- wrk script of bench/morning_bench.py: sends a list of requests in order, one request per
-- fixed-width line of the list file, never the same line twice. Thread k of n sends lines
-- k, k+n, k+2n, ... from the position where it stopped in the previous run; at the end wrk
-- writes each thread's new position into the positions file.
-- args: list file, line width, n (wrk threads), start positions "p0,p1,...", positions file,
--   the students' password, "verify" (count the answers' statuses; slower) or "measure".
-- Lines: "F <school> <token> <since>" a student's first panel open of a morning,
--        "P <school> <token> <since>" a later open (since: the time of the previous one),
--        "C <device secret> <battery> <storage free MB>" a check-in,
--        "L <username>" a login.

local threads = {}

-- In wrk's main Lua state, once per thread before the thread's init.
function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

local list, width, lines, stride, counts

local function count_status(status, headers, body)
  local what = "other"
  if body:find('"protocol"', 1, true) then
    what = "check-in"
  elseif body:find('"access_token"', 1, true) then
    what = "login"
  elseif body:find('"school_id"', 1, true) or status == 304 then
    what = "panel"
  end
  local key = status .. " " .. what
  counts[key] = (counts[key] or 0) + 1
  local parts = {}
  for name, n in pairs(counts) do
    parts[#parts + 1] = name .. "=" .. n
  end
  counted = table.concat(parts, "\t")
end

function init(args)
  list = assert(io.open(args[1], "rb"))
  width = tonumber(args[2])
  lines = math.floor(list:seek("end") / width)
  stride = tonumber(args[3])
  local starts = {}
  for value in args[4]:gmatch("%d+") do
    starts[#starts + 1] = tonumber(value)
  end
  position = starts[id + 1] -- a global: done() reads it through thread:get
  positions_file = args[5]
  password = args[6]
  counted = ""
  if args[7] == "verify" then
    counts = {}
    response = count_status -- wrk asks thread 0's state after init whether to parse answers
  end
end

function request()
  -- Beyond the end (a run faster than the list was made for) it wraps; the report says so.
  local line = (id + stride * position) % lines
  position = position + 1
  list:seek("set", line * width)
  local fields = {}
  for field in list:read(width):gmatch("%S+") do
    fields[#fields + 1] = field
  end
  local kind = fields[1]
  if kind == "C" then
    local body = string.format(
      '{"os_version": "14", "inventory": {"battery": %s, "storage_free_mb": %s}}',
      fields[3], fields[4])
    return wrk.format("POST", "/api/agent/v1/checkin", {
      ["Authorization"] = "Bearer " .. fields[2],
      ["Content-Type"] = "application/json",
    }, body)
  elseif kind == "L" then
    local body = string.format('{"username": "%s", "password": "%s"}', fields[2], password)
    return wrk.format("POST", "/api/v1/auth/login", {["Content-Type"] = "application/json"}, body)
  end
  local path = string.format("/api/v1/schools/%s/panel?days=2&since=%s", fields[2], fields[4])
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. fields[3]})
end

function done(summary, latency, requests)
  local out = assert(io.open(threads[1]:get("positions_file"), "w"))
  for _, thread in ipairs(threads) do
    local row = thread:get("id") .. "\t" .. thread:get("position")
    local statuses = thread:get("counted")
    if statuses ~= "" then
      row = row .. "\t" .. statuses
    end
    out:write(row .. "\n")
  end
  out:close()
end
