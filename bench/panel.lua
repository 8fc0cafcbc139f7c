-- wrk script: many students, each with their own login, open their class's panel JSON.
-- args: school id, then a file of lines "<access token> <class>".
local school, students = nil, {}
local counter = 0

function init(args)
  school = args[1]
  for line in io.lines(args[2]) do
    local token, class = line:match("^(%S+) (%S+)$")
    students[#students + 1] = {token = token, class = class}
  end
  counter = math.random(#students)
end

function request()
  counter = counter % #students + 1
  local student = students[counter]
  local path = string.format("/api/v1/schools/%s/panel?class=%s&days=2", school, student.class)
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. student.token})
end
