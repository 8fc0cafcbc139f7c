-- wrk script: each request is the next simulated iPad's signed message. The file (first
-- argument) has one line per iPad: its Mdm-Signature, a tab, and the body it signed (a plist
-- on one line); the second argument is the path, the third the Content-Type.
local messages = {}
local counter = 0
local path, content_type

function init(args)
  for line in io.lines(args[1]) do
    local signature, body = line:match("^([^\t]+)\t(.*)$")
    messages[#messages + 1] = {signature, body}
  end
  path, content_type = args[2], args[3]
  -- Each wrk thread starts at its own offset in the list.
  counter = math.random(#messages)
end

function request()
  counter = counter % #messages + 1
  local message = messages[counter]
  return wrk.format("PUT", path, {
    ["Mdm-Signature"] = message[1],
    ["Content-Type"] = content_type,
  }, message[2])
end
