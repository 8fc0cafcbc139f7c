-- wrk script: each request is a check-in of the next enrolled device, with a changing battery
-- level so the inventory is written too (the morning's worst case).
local secrets = {}
local counter = 0

function init(args)
  for line in io.lines(args[1]) do
    secrets[#secrets + 1] = line
  end
  -- Each wrk thread starts at its own offset in the device list.
  counter = math.random(#secrets)
end

function request()
  counter = counter % #secrets + 1
  local body = string.format(
    '{"os_version": "14", "inventory": {"battery": %d, "storage_free_mb": %d}}',
    counter % 100, 20000 + counter % 997)
  return wrk.format("POST", "/api/agent/v1/checkin", {
    ["Authorization"] = "Bearer " .. secrets[counter],
    ["Content-Type"] = "application/json",
  }, body)
end
