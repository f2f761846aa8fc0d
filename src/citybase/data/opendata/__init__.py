"""Public data opening (公共数据开放): the public portal, downloads, applications for conditional
opening, the CKAN Action API's read side, and the DCAT-AP export."""
