-- wrk script: readers of /api/v1, rotating over people (a page, a search,
-- one person's access in every system), plans, drift findings and reach.
-- Env: GRANTFLOW_TOKEN (a viewer's bearer token), BENCH_PEOPLE (generated
-- people, person<i>@example.com), BENCH_ROUTE (only route N, 1-based: to
-- profile one route at a time), BENCH_THINK_MS (each client waits this long
-- between an answer and its next request, as people and programs do; 0: as
-- fast as the server answers).

local token = os.getenv("GRANTFLOW_TOKEN") or error("GRANTFLOW_TOKEN is not set")
local people = tonumber(os.getenv("BENCH_PEOPLE") or "3000")
local only = tonumber(os.getenv("BENCH_ROUTE") or "0")
local think = tonumber(os.getenv("BENCH_THINK_MS") or "0")

local function someone()
  return "person" .. math.random(0, people - 1)
end

local routes = {
  function() return "/api/v1/people?limit=50" end,
  function() return "/api/v1/people?q=" .. someone() .. "&limit=20" end,
  function() return "/api/v1/people/" .. someone() .. "%40example.com" end,
  function() return "/api/v1/plans?limit=50" end,
  function() return "/api/v1/drift/findings?limit=50" end,
  function() return "/api/v1/reach?group=Production%20Access%20Demo" end,
  function() return "/api/v1/reach?user=lena.fischer%40example.com" end,
}

local headers = {
  ["Authorization"] = "Bearer " .. token,
  ["Accept"] = "application/json",
}

local n = 0

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  n = n + 1
  local route = only > 0 and routes[only] or routes[(n % #routes) + 1]
  return wrk.format("GET", route(), headers)
end

function delay()
  return think
end
