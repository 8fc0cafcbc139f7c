-- wrk script: students of every class of the school open the panel JSON (with their login).
-- args: access token, school id, then the class names.
local token, school, classes = nil, nil, {}
local counter = 0

function init(args)
  token, school = args[1], args[2]
  for i = 3, #args do
    classes[#classes + 1] = args[i]
  end
  counter = math.random(#classes)
end

function request()
  counter = counter % #classes + 1
  local path = string.format("/api/v1/schools/%s/panel?class=%s&days=2", school, classes[counter])
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
end
