"""Pure numpy/scipy/implicit: purchase lines and confidence, the factor model, neighbours, scoring
and ranking, repurchase cycles, RFM, BTYD and the forecast, evaluation. Imports nothing else of nbo
and nothing of HTTP or SQL."""
