-- What the plugin knows about spec files without asking the server:
-- which buffers are specs, and the agent names (the `## ` headings).
local M = {}

M.suffix = '.agents.md'

---@param name string a file name or path
---@return boolean
function M.is_spec_name(name)
  return name ~= nil and name:sub(-#M.suffix) == M.suffix
end

---@param bufnr? integer
---@return boolean
function M.is_spec_buffer(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return vim.api.nvim_buf_is_valid(bufnr) and M.is_spec_name(vim.api.nvim_buf_get_name(bufnr))
end

--- Agent names of a spec: its level-2 headings, outside the YAML front matter
--- and fenced code blocks (the same rules as the server's parser).
---@param lines string[]
---@return string[]
function M.agent_names_from_lines(lines)
  local names, fence, i = {}, nil, 1
  if lines[1] and lines[1]:match('^%-%-%-%s*$') then
    i = 2
    while i <= #lines and not lines[i]:match('^%-%-%-%s*$') and not lines[i]:match('^%.%.%.%s*$') do
      i = i + 1
    end
    i = i + 1
  end
  for n = i, #lines do
    local line = lines[n]
    local marker = line:match('^ ? ? ?(```+)') or line:match('^ ? ? ?(~~~+)')
    if fence then
      if marker and marker:sub(1, 1) == fence:sub(1, 1) and #marker >= #fence then
        fence = nil
      end
    elseif marker then
      fence = marker
    else
      local name = line:match('^ ? ? ?##[ \t]+(.-)[ \t]*$')
      if name then
        name = name:gsub('[ \t]+#+$', '')
        if name ~= '' then
          names[#names + 1] = name
        end
      end
    end
  end
  return names
end

---@param bufnr? integer
---@return string[]
function M.agent_names(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return M.agent_names_from_lines(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false))
end

--- The spec buffer a command applies to: the current buffer when it is a spec,
--- else the most recently used loaded spec buffer.
---@return integer?
function M.current_spec_buffer()
  local cur = vim.api.nvim_get_current_buf()
  if M.is_spec_buffer(cur) then
    return cur
  end
  local best, best_used
  for _, info in ipairs(vim.fn.getbufinfo({ buflisted = 1 })) do
    if M.is_spec_name(info.name) and (not best_used or info.lastused > best_used) then
      best, best_used = info.bufnr, info.lastused
    end
  end
  return best
end

return M
