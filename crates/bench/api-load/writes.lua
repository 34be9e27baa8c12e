-- wrk script: writers of /api/v1. Each connection asks for a change as a
-- requester (POST /api/v1/plans, 201 and the plan waits for an approval),
-- and the approver approves what was asked (POST /api/v1/plans/{id}/approve).
-- Env: REQUESTER_TOKEN, APPROVER_TOKEN, BENCH_PEOPLE.
-- At the end it prints the plans created and approved, which the script
-- compares with the audit trail's plan.created and plan.approved events.

local requester = os.getenv("REQUESTER_TOKEN") or error("REQUESTER_TOKEN is not set")
local approver = os.getenv("APPROVER_TOKEN") or error("APPROVER_TOKEN is not set")
local people = tonumber(os.getenv("BENCH_PEOPLE") or "3000")
-- Groups no generated person is in, so every request is a change to make.
local groups = { "Production Access Demo", "Payments Oncall" }

local threads = {}
local pending = {}
created, approved, refused = 0, 0, 0
statuses = ""

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  local id = table.remove(pending)
  if id then
    return wrk.format("POST", "/api/v1/plans/" .. id .. "/approve", {
      ["Authorization"] = "Bearer " .. approver,
      ["Accept"] = "application/json",
    })
  end
  local who = "person" .. math.random(0, people - 1) .. "@example.com"
  local group = groups[math.random(1, #groups)]
  local body = '{"request": "assign ' .. who .. ' to the ' .. group .. ' group"}'
  return wrk.format("POST", "/api/v1/plans", {
    ["Authorization"] = "Bearer " .. requester,
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
  }, body)
end

function response(status, headers, body)
  if status == 201 then
    local id = body:match('"id":"([^"]+)"')
    if id then
      created = created + 1
      table.insert(pending, id)
    end
  elseif status == 200 and body:find('"approved_by"', 1, true) then
    approved = approved + 1
  elseif status >= 400 then
    refused = refused + 1
    if #statuses < 2000 then
      statuses = statuses .. status .. " " .. body:sub(1, 200) .. "\n"
    end
  end
end

function done(summary, latency, requests)
  local c, a, r = 0, 0, 0
  for _, thread in ipairs(threads) do
    c = c + thread:get("created")
    a = a + thread:get("approved")
    r = r + thread:get("refused")
    local s = thread:get("statuses")
    if s and #s > 0 then io.write("refusals (first of thread):\n" .. s) end
  end
  io.write(string.format("writes: plans_created=%d approvals=%d refused=%d\n", c, a, r))
end
