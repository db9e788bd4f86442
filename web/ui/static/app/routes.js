// The API paths the workspace calls beyond the basics, in one place.
// The routing endpoints are the routing engine's (docs/protocol.md, the
// OpenAPI document at /api/v1/openapi.json).

export const routes = {
  pendingOffers: '/api/v1/me/offers',
  pendingTransfers: '/api/v1/me/transfers',
  answerOffer: (id, accept) => `/api/v1/offers/${id}/${accept ? 'accept' : 'decline'}`,
  answerTransfer: (id, accept) => `/api/v1/transfers/${id}/${accept ? 'accept' : 'reject'}`,
  transfer: (convId) => `/api/v1/conversations/${convId}/transfer`,
  assign: (convId) => `/api/v1/conversations/${convId}/assign`,
  candidates: (convId, deptId) => `/api/v1/conversations/${convId}/candidates${deptId ? '?department_id=' + deptId : ''}`,
  ticket: (convId, op) => `/api/v1/conversations/${convId}/ticket/${op}`,
  linkedTicket: (convId) => `/api/v1/conversations/${convId}/tickets`,
  take: (convId) => `/api/v1/conversations/${convId}/take`,
  end: (convId) => `/api/v1/conversations/${convId}/end`,
};
